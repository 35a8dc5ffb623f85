"""The outbox on both databases: claims are leased, ordered per person and endpoint,
taken again when a lease expires, never taken twice at once, and only the worker holding
the lease records the outcome."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import update

from gateway.exchange.deliveries import WAKE_CHANNEL, DeliveryState, NewDelivery, Recorded
from gateway.exchange.outbox import OutboxStore
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.schema import outbox

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


def delivery(
    delivery_id: str, patient: str = "9434765919", destination: str = "RZZ"
) -> NewDelivery:
    return NewDelivery(
        id=delivery_id,
        destination=destination,
        patient=patient,
        kind="handover",
        service_request_id=f"sr-{delivery_id}",
        correlation_id="corr-1",
        body='{"resourceType":"Bundle"}',
        sender_ods="AZZ",
        sender_client="demo-provider-epr",
        sender_role="provider-epr",
        purpose="TREAT",
        justification=None,
    )


def enqueue(database: Database, *items: NewDelivery) -> None:
    with database.write() as connection:
        for item in items:
            OutboxStore(connection).enqueue(item, NOW)


def claim(database: Database, worker: str, at: datetime = NOW, limit: int = 10) -> list[str]:
    with database.write() as connection:
        return [
            d.id for d in OutboxStore(connection).claim(worker, at, LEASE, limit, exclude=set())
        ]


def test_a_claim_leases_due_deliveries_oldest_first(database: Database) -> None:
    enqueue(database, delivery("a", "9434765919"), delivery("b", "9434765870"))
    assert claim(database, "w1") == ["a", "b"]
    with database.read() as connection:
        found = OutboxStore(connection).get("a")
    assert found is not None
    assert (found.state, found.attempts) == (DeliveryState.IN_FLIGHT, 1)
    # Leased: nobody else takes them.
    assert claim(database, "w2") == []


def test_a_later_delivery_about_the_same_person_waits_for_the_earlier(database: Database) -> None:
    enqueue(database, delivery("create"), delivery("update"), delivery("other", "9434765870"))
    assert claim(database, "w1", limit=10) == ["create", "other"]
    with database.write() as connection:
        assert OutboxStore(connection).finish("create", "w1", DeliveryState.DELIVERED, NOW)
    assert claim(database, "w1") == ["update"]


def test_a_dead_delivery_does_not_hold_the_rest_back(database: Database) -> None:
    enqueue(database, delivery("poison"), delivery("next"))
    assert claim(database, "w1") == ["poison"]
    with database.write() as connection:
        assert OutboxStore(connection).finish(
            "poison", "w1", DeliveryState.DEAD, NOW, error="HTTP 400"
        )
    assert claim(database, "w1") == ["next"]


def test_an_expired_lease_is_claimed_again_and_the_old_worker_cannot_record(
    database: Database,
) -> None:
    enqueue(database, delivery("a"))
    assert claim(database, "dead-worker") == ["a"]
    assert claim(database, "w2", NOW + LEASE - timedelta(seconds=1)) == []
    assert claim(database, "w2", NOW + LEASE + timedelta(seconds=1)) == ["a"]
    with database.write() as connection:
        store = OutboxStore(connection)
        assert not store.finish("a", "dead-worker", DeliveryState.DELIVERED, NOW)
        assert store.finish("a", "w2", DeliveryState.DELIVERED, NOW, receiver_reference="Bundle/1")
    with database.read() as connection:
        found = OutboxStore(connection).get("a")
    assert found is not None
    assert (found.state, found.attempts, found.receiver_reference) == (
        DeliveryState.DELIVERED,
        2,
        "Bundle/1",
    )


def test_a_round_of_outcomes_is_recorded_at_once_where_the_lease_is_still_held(
    database: Database,
) -> None:
    enqueue(database, delivery("a", "p1"), delivery("b", "p2"), delivery("c", "p3"))
    assert claim(database, "w1") == ["a", "b", "c"]
    later = NOW + LEASE + timedelta(seconds=1)
    with database.write() as connection:  # c's lease ran out and w2 took it
        connection.execute(
            update(outbox).where(outbox.c.id != "c").values(lease_until=later + LEASE)
        )
    assert claim(database, "w2", later) == ["c"]
    retry = NOW + timedelta(seconds=30)
    with database.write() as connection:
        recorded = OutboxStore(connection).record(
            "w1",
            [
                Recorded("a", DeliveryState.DELIVERED, None, finished_at=NOW, reference="Bundle/9"),
                Recorded("b", DeliveryState.RETRYING, "HTTP 503", retry_at=retry),
                Recorded("c", DeliveryState.DELIVERED, None, finished_at=NOW),
            ],
        )
    assert recorded == {"a", "b"}
    with database.read() as connection:
        store = OutboxStore(connection)
        a, b, c = (store.get(name) for name in "abc")
    assert a is not None
    assert b is not None
    assert c is not None
    assert (a.state, a.finished_at, a.receiver_reference, a.last_error) == (
        DeliveryState.DELIVERED,
        NOW,
        "Bundle/9",
        None,
    )
    assert (b.state, b.next_attempt_at, b.last_error, b.finished_at) == (
        DeliveryState.RETRYING,
        retry,
        "HTTP 503",
        None,
    )
    assert (c.state, c.attempts) == (DeliveryState.IN_FLIGHT, 2)  # still w2's to record


def test_enqueueing_notifies_idle_workers_when_it_commits_on_postgresql(
    postgresql_url: str,
) -> None:
    # PostgreSQL only: SQLite's workers poll.
    database = Database(postgresql_url)
    migrate.upgrade(database)
    try:
        _notifies_on_commit(database)
    finally:
        database.dispose()


def _notifies_on_commit(database: Database) -> None:
    conninfo = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as listener:
        listener.execute(f"LISTEN {WAKE_CHANNEL}")
        try:
            with database.write() as connection:
                OutboxStore(connection).enqueue(delivery(str(uuid.uuid4())), NOW)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert list(listener.notifies(timeout=0.5)) == []
        enqueue(database, delivery(str(uuid.uuid4())), delivery(str(uuid.uuid4()), "p2"))
        # One notification per transaction, however many rows it queued.
        assert [n.channel for n in listener.notifies(timeout=0.5)] == [WAKE_CHANNEL]


def test_a_retry_waits_until_its_time(database: Database) -> None:
    enqueue(database, delivery("a"))
    claim(database, "w1")
    with database.write() as connection:
        assert OutboxStore(connection).retry_at("a", "w1", NOW + timedelta(seconds=30), "HTTP 503")
    assert claim(database, "w1", NOW + timedelta(seconds=29)) == []
    assert claim(database, "w1", NOW + timedelta(seconds=30)) == ["a"]


def test_an_operator_requeues_a_dead_delivery_and_discards_a_waiting_one(
    database: Database,
) -> None:
    enqueue(database, delivery("a"), delivery("b", "9434765870"))
    claim(database, "w1")
    with database.write() as connection:
        store = OutboxStore(connection)
        store.finish("a", "w1", DeliveryState.DEAD, NOW, error="HTTP 400")
        store.retry_at("b", "w1", NOW + timedelta(hours=1), "HTTP 503")
        assert store.requeue("a", NOW)
        assert store.discard("b", NOW, "discarded by an operator")
        assert not store.requeue("missing", NOW)
    with database.read() as connection:
        store = OutboxStore(connection)
        a, b = store.get("a"), store.get("b")
    assert a is not None
    assert b is not None
    assert (a.state, a.attempts) == (DeliveryState.QUEUED, 0)
    assert (b.state, b.last_error) == (DeliveryState.DEAD, "discarded by an operator")
    assert DeliveryState.RETRYING not in {a.state, b.state}


def test_concurrent_claims_never_take_the_same_delivery(database: Database) -> None:
    enqueue(database, *(delivery(f"d{n}", f"p{n}") for n in range(40)))
    taken: list[list[str]] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait(timeout=10)
        mine: list[str] = []
        while batch := claim(database, name, limit=3):
            mine.extend(batch)
        taken.append(mine)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claimed = [item for mine in taken for item in mine]
    assert sorted(claimed) == sorted(f"d{n}" for n in range(40))
    assert len(claimed) == len(set(claimed))


def notification(delivery_id: str, subscription_id: str = "sub-1") -> NewDelivery:
    return dataclasses.replace(
        delivery(delivery_id),
        kind="notification",
        service_request_id="sr-shared",
        sender_ods="RZZ",
        url="https://crisis.rzz.test/fhir/hooks",
        method="POST",
        body="",
        subscription_id=subscription_id,
        resource="Communication/c-1/_history/1",
    )


def test_a_notification_is_never_taken_for_one_of_a_dataset_s_deliveries(
    database: Database,
) -> None:
    # Updates to a pushed dataset go to where its deliveries went: a Subscription's
    # notification must never make its organisation one of those.
    pushed = dataclasses.replace(delivery("push-1"), service_request_id="sr-shared")
    enqueue(database, pushed, notification("note-1"))
    with database.read() as connection:
        store = OutboxStore(connection)
        assert [d.id for d in store.for_service_request("sr-shared")] == ["push-1"]
        assert [d.id for d in store.listed(notifications=False)] == ["push-1"]
        listed = store.listed()
    assert [(d.id, d.is_notification) for d in listed] == [("push-1", False), ("note-1", True)]
    assert listed[1].notified_version == ("Communication", "c-1", 1)
    assert listed[0].notified_version is None


def test_a_subscription_s_waiting_notifications_are_stopped_together(
    database: Database,
) -> None:
    enqueue(
        database,
        notification("note-1"),
        notification("note-2", "sub-2"),
        dataclasses.replace(notification("note-3"), patient="9434765870"),
        delivery("push-1"),
    )
    assert claim(database, "w", limit=1) == ["note-1"]  # in flight: its worker records it
    with database.write() as connection:
        stopped = OutboxStore(connection).stop_pending("sub-1", NOW, "stopped: off")
    assert stopped == 1
    with database.read() as connection:
        states = {d.id: (d.state, d.last_error) for d in OutboxStore(connection).listed()}
    assert states["note-3"] == (DeliveryState.STOPPED, "stopped: off")
    assert states["note-1"][0] == DeliveryState.IN_FLIGHT
    assert states["note-2"][0] == DeliveryState.QUEUED
    assert states["push-1"][0] == DeliveryState.QUEUED
