"""Dataset submissions on both databases: the sender's id and request id are each taken
once, even by two transactions at the same moment."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from gateway.store.database import Database
from gateway.store.submissions import Submission, SubmissionStore

RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def submission(
    external_id: str = "EPR-1", request_id: str | None = "req-1", n: int = 1
) -> Submission:
    return Submission(
        sender_ods="AZZ",
        external_id=external_id,
        kind="handover",
        request_id=request_id,
        body_sha256="a" * 64,
        service_request_id=f"sr-{n}",
        communication_id=f"c-{n}",
        received_at=RECEIVED,
        gaps=("what_has_changed",),
    )


def test_a_submission_is_found_by_each_of_its_keys(database: Database) -> None:
    with database.write() as connection:
        assert SubmissionStore(connection).add(submission())
    with database.read() as connection:
        store = SubmissionStore(connection)
        assert store.by_external_id("AZZ", "EPR-1") == submission()
        assert store.by_request_id("AZZ", "req-1") == submission()
        assert store.by_service_request("sr-1") == submission()
        assert store.by_communication("c-1") == submission()
        assert store.by_external_id("RZZ", "EPR-1") is None


def test_the_senders_id_and_request_id_are_each_taken_once(database: Database) -> None:
    with database.write() as connection:
        assert SubmissionStore(connection).add(submission())
    with database.write() as connection:
        assert not SubmissionStore(connection).add(submission(request_id="req-2", n=2))
        connection.rollback()
    with database.write() as connection:
        assert not SubmissionStore(connection).add(submission("EPR-2", "req-1", n=3))
        connection.rollback()
    # Without a request id, any number may be stored.
    with database.write() as connection:
        store = SubmissionStore(connection)
        assert store.add(submission("EPR-3", None, n=4))
        assert store.add(submission("EPR-4", None, n=5))


def test_two_transactions_adding_the_same_id_at_once_store_it_once(database: Database) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def add(n: int) -> None:
        barrier.wait(timeout=10)
        with database.write() as connection:
            added = SubmissionStore(connection).add(submission(request_id=None, n=n))
            results.append(added)
            if added:
                # Hold the transaction open: on PostgreSQL the other insert now waits on
                # the key, and fails when this commits (SQLite has one writer at a time).
                time.sleep(0.3)
            else:
                connection.rollback()

    threads = [threading.Thread(target=add, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, True]
