"""Identical anonymous refusals counted into one AuditEvent per address and window: the
counting itself on a clock the test sets, and a flood at a real `gateway serve`."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.access_log.event import (
    AuditedClient,
    AuditedDecision,
    AuditFacts,
    AuditOutcome,
    EventKind,
    audit_event,
)
from core.access_log.event import occurrences as occurrences_of
from core.codes.audit import Subtype
from gateway.access_log.repeated_refusals import RepeatedRefusals
from gateway.app import create_app
from gateway.platform.database import Database
from gateway.platform.schema import audit_events
from gateway.platform.settings import Settings
from tests.fhir_judge import assert_valid_fhir
from tests.servers import running_server_process

START = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)


def refusal(
    seconds: float, *, address: str = "192.0.2.7", client_id: str | None = None, number: int = 0
) -> AuditFacts:
    return AuditFacts(
        event_id=f"event-{number}-{seconds}",
        recorded=START + timedelta(seconds=seconds),
        kind=EventKind.REST,
        subtype=Subtype.SEARCH_TYPE,
        action="E",
        outcome=AuditOutcome.MINOR_FAILURE,
        outcome_desc="The access token is not valid here.",
        client=AuditedClient(client_id, "AZZ" if client_id else None, address),
        end_user=None,
        gateway_base_url="http://127.0.0.1:8080",
        purpose_of_use=(),
        patient=None,
        data=(),
        query=None,
        request_id=f"request-{number}",
        correlation_id=f"correlation-{number}",
        decision=AuditedDecision("access:no-valid-token", None),
    )


def test_the_first_refusal_is_written_at_once_and_its_repeats_once_the_window_ends() -> None:
    refusals = RepeatedRefusals(60)
    written = [n for n in range(100) if refusals.first_of_its_kind(refusal(n * 0.5, number=n))]
    assert written == [0]
    assert refusals.due(START + timedelta(seconds=59)) == []
    (counted,) = refusals.due(START + timedelta(seconds=60))
    assert counted.occurrences == 99
    assert counted.period == (START + timedelta(seconds=0.5), START + timedelta(seconds=49.5))
    # The count stands for many requests: no one request's ids.
    assert counted.request_id is None
    assert counted.correlation_id is None
    assert refusals.due(START + timedelta(seconds=120)) == []


def test_windows_are_per_address_and_per_minute_and_the_counts_are_exact() -> None:
    refusals = RepeatedRefusals(60)
    events = [refusal(n * 0.4, number=n) for n in range(300)]  # two minutes
    events += [refusal(n, address="198.51.100.9", number=n) for n in range(30)]
    firsts = [event for event in events if refusals.first_of_its_kind(event)]
    counted = refusals.due(START + timedelta(minutes=2))
    assert len(firsts) == 3  # the first address in each of two minutes, the second once
    assert len(counted) == 3
    assert sum(event.occurrences for event in firsts + counted) == 330


def test_identified_callers_and_successes_are_always_written() -> None:
    refusals = RepeatedRefusals(60)
    identified = [refusal(n, client_id="demo-provider-epr", number=n) for n in range(5)]
    succeeded = [
        replace(refusal(n, number=n), outcome=AuditOutcome.SUCCESS, decision=None) for n in range(5)
    ]
    assert all(refusals.first_of_its_kind(event) for event in identified + succeeded)
    assert refusals.everything() == []


def test_a_different_refusal_is_not_a_repeat() -> None:
    refusals = RepeatedRefusals(60)
    assert refusals.first_of_its_kind(refusal(0))
    expired = replace(refusal(1), outcome_desc="The access token has expired; get a new one.")
    assert refusals.first_of_its_kind(expired)
    assert not refusals.first_of_its_kind(refusal(2))


def test_a_stopping_process_takes_every_count_and_unwritten_ones_are_kept() -> None:
    refusals = RepeatedRefusals(60)
    for n in range(10):
        refusals.first_of_its_kind(refusal(n, number=n))
    (held,) = refusals.everything()
    assert held.occurrences == 9
    refusals.keep([held])
    assert refusals.due(START) == [held]
    assert refusals.everything() == []


def test_the_count_and_period_are_in_the_events_own_bytes() -> None:
    refusals = RepeatedRefusals(60)
    for n in range(4):
        refusals.first_of_its_kind(refusal(n, number=n))
    (counted,) = refusals.due(START + timedelta(minutes=1))
    event = audit_event(counted)
    assert_valid_fhir(event)
    assert occurrences_of(event) == 3
    assert event["period"] == {
        "start": "2026-03-02T10:00:01.000000Z",
        "end": "2026-03-02T10:00:03.000000Z",
    }
    assert occurrences_of(audit_event(refusal(0))) == 1


def test_a_flood_of_anonymous_refusals_is_a_handful_of_events_whose_counts_sum_to_it(
    database: Database, database_url: str
) -> None:
    """300 identical 401s at a real server; then it is stopped (SIGINT, as an operator or
    an orchestrator stops it), which writes the counts it holds."""
    unthrottled = {
        "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": "100000",
        "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": "100000",
    }
    with running_server_process(database_url, **unthrottled) as (base, process):
        with httpx.Client(base_url=base, timeout=10) as http:
            statuses = {http.get("/fhir/ServiceRequest").status_code for _ in range(300)}
        assert statuses == {401}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.content).where(audit_events.c.outcome == 4)
        ).all()
    refusals = [json.loads(row.content) for row in rows]
    assert 2 <= len(refusals) <= 6
    assert sum(occurrences_of(event) for event in refusals) == 300


def test_a_running_server_writes_the_count_once_its_window_has_ended(
    settings: Settings, database: Database
) -> None:
    """The background writer, on the runtime's clock: moved past the window's end, the
    count is written without the process stopping."""
    now = [datetime.now(UTC).replace(second=0, microsecond=0)]
    app = create_app(settings, clock=lambda: now[0])
    with TestClient(app, base_url="http://testserver") as anonymous:
        for _ in range(12):
            assert anonymous.get("/fhir/ServiceRequest").status_code == 401
        assert _refusals(database) == [1]  # the first, at once
        now[0] += timedelta(seconds=60)
        for _ in range(50):  # the writer looks every second: a bounded number of looks
            if len(_refusals(database)) == 2:
                break
            time.sleep(0.1)
        assert sorted(_refusals(database)) == [1, 11]


def _refusals(database: Database) -> list[int]:
    with database.read() as connection:
        rows = connection.execute(
            select(audit_events.c.content).where(audit_events.c.outcome == 4)
        ).all()
    return [occurrences_of(json.loads(row.content)) for row in rows]
