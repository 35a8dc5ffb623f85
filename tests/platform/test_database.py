"""The database's own timeouts bound every wait of a real server: a request that meets a
lock someone else holds is answered 503 transient within the lock timeout, and what it
was writing is rolled back, never committed after its answer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from gateway.platform.database import Database, DatabaseTimeouts
from gateway.platform.database_faults import is_unavailable, sqlstate_of
from tests.faults import JSON, Served, handover, served_behind_proxy, stored, timed

# The lock timeout is 2 s and the request timeout 20 s (tests/faults.py).
BOUND_SECONDS = 6.0


@pytest.fixture
def served(postgres: Database, postgresql_url: str) -> Iterator[Served]:
    with served_behind_proxy(postgresql_url) as server:
        yield server


def test_a_held_lock_is_answered_503_within_the_lock_timeout_and_nothing_commits_after(
    served: Served, postgres: Database, postgresql_url: str
) -> None:
    with httpx.Client(base_url=served.base, timeout=60) as http:
        with psycopg.connect(postgresql_url) as locker:
            locker.execute("LOCK TABLE dataset_submissions, resources IN ACCESS EXCLUSIVE MODE")
            for send in (
                lambda: http.post(
                    "/api/handovers", content=handover(), headers={**served.headers, **JSON}
                ),
                lambda: http.get("/fhir/ServiceRequest", headers=served.headers),
            ):
                response, elapsed = timed(send)
                assert response.status_code == 503, response.text
                assert response.json()["issue"][0]["code"] == "transient"
                assert response.headers["Retry-After"].isdigit()
                assert elapsed < BOUND_SECONDS, elapsed
            locker.rollback()  # the lock is released
        # Answered after its rollback: nothing of the push can commit now.
        assert stored(postgres) == (0, 0)
        again = http.post("/api/handovers", content=handover(), headers={**served.headers, **JSON})
        assert again.status_code == 201, again.text


def test_postgresql_connections_carry_every_timeout() -> None:
    arguments = DatabaseTimeouts(connect=3, lock=1.5, statement=10).postgresql_connect_args(
        "-c search_path=gw"
    )
    assert arguments["connect_timeout"] == 3
    assert arguments["options"] == (
        "-c search_path=gw -c statement_timeout=10000 -c lock_timeout=1500 "
        "-c idle_in_transaction_session_timeout=30000"
    )
    assert arguments["keepalives"] == 1
    assert arguments["tcp_user_timeout"] == 20000


def test_a_statement_past_its_timeout_is_cancelled_by_the_database(postgresql_url: str) -> None:
    database = Database(postgresql_url, timeouts=DatabaseTimeouts(statement=0.2))
    try:
        with pytest.raises(OperationalError) as raised, database.read() as connection:
            connection.exec_driver_sql("SELECT pg_sleep(5)")
        assert sqlstate_of(raised.value) == "57014"
        assert is_unavailable(raised.value)
    finally:
        database.dispose()


def test_a_sqlite_writer_waits_for_another_process_only_as_long_as_the_lock_timeout(
    sqlite_url: str,
) -> None:
    database = Database(sqlite_url, timeouts=DatabaseTimeouts(lock=0.2))
    other = sqlite3.connect(make_url(sqlite_url).database or "", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised, database.write():
            pass
        assert time.monotonic() - started < 2
        assert is_unavailable(raised.value)
    finally:
        other.execute("ROLLBACK")
        other.close()
        database.dispose()
