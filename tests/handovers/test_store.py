"""Dataset submissions on both databases: the sender's id and request id are each taken
once, even by two transactions at the same moment, and a real server answers the pushes
that lost the race 409 duplicate, as it does a repeat that comes later."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.handovers.store import Submission, SubmissionStore
from gateway.platform.database import Database
from tests.faults import JSON, handover, stored
from tests.servers import running_server, served_token

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


def test_after_a_clash_the_transaction_still_reads_the_copy_that_was_stored(
    database: Database,
) -> None:
    # On PostgreSQL a failed insert aborts the transaction, unless it ran in a savepoint:
    # the duplicate check that follows it would fail, and the sender be answered 500.
    with database.write() as connection:
        assert SubmissionStore(connection).add(submission())
    with database.write() as connection:
        store = SubmissionStore(connection)
        assert not store.add(submission(request_id="req-2", n=2))
        assert store.by_external_id("AZZ", "EPR-1") == submission()
        assert not store.add(submission("EPR-2", "req-1", n=3))
        assert store.by_request_id("AZZ", "req-1") == submission()


async def _push_four_at_once(base: str, auth: dict[str, str], body: bytes, *ids: str) -> list[Any]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        return list(
            await asyncio.gather(
                *(
                    http.post(
                        "/api/handovers",
                        content=body,
                        headers={**auth, **JSON, "X-Request-ID": request_id},
                    )
                    for request_id in ids
                )
            )
        )


def test_identical_pushes_at_the_same_moment_are_stored_once_and_the_others_told_duplicate(
    database: Database, database_url: str
) -> None:
    with running_server(database_url, GATEWAY_DELIVERY_WORKERS="0") as base:
        auth = served_token(base)
        cases = {
            # The same dataset sent four times, each with a request id of its own.
            "external_id": ("EPR-SAME-1", ("r-1", "r-2", "r-3", "r-4")),
            # One request retried three times at once: same X-Request-ID, same body.
            "X-Request-ID": ("EPR-SAME-2", ("retry-1",) * 4),
        }
        for key, (external_id, request_ids) in cases.items():
            responses = asyncio.run(
                _push_four_at_once(base, auth, handover(external_id), *request_ids)
            )
            statuses = sorted(response.status_code for response in responses)
            assert statuses == [201, 409, 409, 409], (key, [r.text for r in responses])
            created = next(r for r in responses if r.status_code == 201).json()["id"]
            for response in responses:
                if response.status_code == 409:
                    issue = response.json()["issue"][0]
                    assert issue["code"] == "duplicate"
                    assert created in issue["diagnostics"]
    # Each dataset once: its ServiceRequest, two Flags, Communication and Provenance.
    assert stored(database) == (10, 2)
