"""Rows checked against their bytes, through the service layer the server and the CLI use:
an edit to an event waiting for its position is found too (by seq), the search refuses a
row that disagrees and says so in a log line with no value in it, and the backlog of
events waiting to be sequenced is counted and aged by the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update
from structlog.testing import capture_logs

from gateway.access_log.checking import verify_database
from gateway.access_log.derivation import first_disagreement, waiting
from gateway.access_log.keys import KeyHistory
from gateway.access_log.search import AuditQuery, event_by_id, search_events
from gateway.access_log.sequencer import Sequencer, SequencingPolicy
from gateway.platform.database import Database
from gateway.platform.errors import AuditIntegrityFailed
from gateway.platform.schema import audit_events, audit_references
from tests.access_log.events import append, key

KEY = key()
KEYS = KeyHistory.of(KEY, ())
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PATIENT, OTHER = "9434765919", "4010232137"


@pytest.fixture
def log(database: Database) -> Database:
    """Ten sequenced and checkpointed events, then five still waiting for a position."""
    with database.write() as connection:
        append(connection, 10, recorded=T0)
        Sequencer(KEY, SequencingPolicy(batch=100, checkpoint_every_events=10)).run(connection)
        append(connection, 5, start=10, recorded=T0 + timedelta(minutes=1))
    return database


def test_an_untouched_log_has_no_disagreement_and_a_counted_backlog(log: Database) -> None:
    with log.read() as connection:
        assert first_disagreement(connection) is None
        backlog = waiting(connection)
        assert verify_database(connection, KEYS).ok
    assert backlog.count == 5
    assert backlog.oldest_recorded == T0 + timedelta(minutes=1)
    assert backlog.age_seconds(T0 + timedelta(minutes=3)) == 120.0


def test_an_empty_backlog_has_no_age(database: Database) -> None:
    with database.read() as connection:
        backlog = waiting(connection)
    assert (backlog.count, backlog.oldest_recorded, backlog.age_seconds(T0)) == (0, None, 0.0)


def test_an_edited_event_still_waiting_for_its_position_is_found_by_seq(log: Database) -> None:
    with log.write() as connection:
        seq, event_id = connection.execute(
            select(audit_events.c.seq, audit_events.c.event_id)
            .where(audit_events.c.position.is_(None))
            .order_by(audit_events.c.seq.desc())
        ).first()  # type: ignore[misc]
        connection.execute(
            update(audit_events).where(audit_events.c.seq == seq).values(request_id="forged")
        )
    with log.read() as connection:
        report = verify_database(connection, KEYS)
    assert not report.ok
    assert report.first_bad_position is None
    assert report.problem == (
        f"an event not yet sequenced (seq {seq}, event {event_id}): "
        "the request_id column does not match the event's bytes"
    )


def test_the_search_refuses_an_edited_row_and_logs_no_value(log: Database) -> None:
    with log.write() as connection:
        seq = connection.execute(select(audit_events.c.seq).where(audit_events.c.position == 3))
        edited = int(seq.scalar_one())
        connection.execute(
            update(audit_events).where(audit_events.c.seq == edited).values(patient=OTHER)
        )
    with log.read() as connection, capture_logs() as logs:
        with pytest.raises(AuditIntegrityFailed):
            search_events(connection, AuditQuery(patient=OTHER), seen_by=None)
        # Searched on its true value, the row no longer matches; the rest are shown.
        page = search_events(connection, AuditQuery(patient=PATIENT, count=100), seen_by=None)
    assert edited not in {row.seq for row in page.rows}
    assert len(page.rows) == 14
    assert all(row.patient == PATIENT for row in page.rows)
    [line] = logs
    assert line == {
        "event": "audit.integrity_failed",
        "log_level": "error",
        "seq": edited,
        "position": 3,
        "problem": "the patient column does not match the event's bytes",
    }
    assert OTHER not in str(line)


def test_a_forged_reference_row_is_not_a_match(log: Database) -> None:
    with log.write() as connection:
        [row] = connection.execute(
            select(audit_events.c.seq, audit_events.c.event_id).where(audit_events.c.position == 7)
        ).all()
        connection.execute(
            insert(audit_references).values(kind="org", value="QZZ", event_seq=row.seq)
        )
    with log.read() as connection:
        # The forged row would put the event in another organisation's view.
        assert event_by_id(connection, row.event_id, seen_by="RZZ") is None
        with pytest.raises(AuditIntegrityFailed):
            event_by_id(connection, row.event_id, seen_by="QZZ")
        with pytest.raises(AuditIntegrityFailed):
            search_events(connection, AuditQuery(), seen_by=None)
