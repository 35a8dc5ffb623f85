"""An insider with database access edits what the IG search and the patient access report
read (the columns, the reference rows) and leaves every event's signed bytes alone:
`gateway audit verify`, as the operator runs it, fails at the first edited event and
names the column or reference; the search and the report refuse to show the edited row
rather than match on the edited value.

The store is written once per database by a real `gateway serve` (tokens, writes with
BaRS end-user headers, reads, refusals, an IG search), sequenced and checkpointed by
`gateway audit checkpoint`; each test edits it and the log is put back afterwards."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, delete, insert, select, update

from gateway.platform.database import Database
from gateway.platform.schema import audit_checkpoints, audit_events, audit_nodes, audit_references
from tests.builders import PATIENT_NHS_NUMBER, service_request
from tests.commands.test_cli import FHIR
from tests.servers import (
    gateway_forked,
    gateway_in_process,
    running_server,
    served_token,
)

OTHER_NHS_NUMBER = "4010232137"  # valid check digit: someone the events are not about
END_USER = {
    # BaRS end-user headers (base64 FHIR JSON): the provider's organisation, a practitioner.
    "NHSD-End-User-Organisation": "eyJyZXNvdXJjZVR5cGUiOiJPcmdhbml6YXRpb24iLCJpZGVudGlmaWVy"
    "IjpbeyJzeXN0ZW0iOiJodHRwczovL2ZoaXIubmhzLnVrL0lkL29kcy1vcmdhbml6YXRpb24tY29kZSIsInZh"
    "bHVlIjoiQVpaIn1dLCJuYW1lIjoiUCJ9",
    "NHSD-Requesting-Practitioner": "eyJyZXNvdXJjZVR5cGUiOiJQcmFjdGl0aW9uZXJSb2xlIiwiaWRlbnRp"
    "ZmllciI6W3sic3lzdGVtIjoiaHR0cHM6Ly9maGlyLm5ocy51ay9JZC9zZHMtcm9sZS1wcm9maWxlLWlkIiwi"
    "dmFsdWUiOiI1NTU1In1dfQ==",
}
AUDIT_TABLES = (audit_events, audit_references, audit_nodes, audit_checkpoints)


@dataclass(frozen=True)
class Store:
    url: str
    database: Database
    snapshot: dict[str, list[dict[str, Any]]]


def _gateway(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return gateway_forked(database_url, "audit", *args)


@pytest.fixture(scope="module")
def written(database_url: str) -> Iterator[Store]:
    database = Database(database_url)
    with database.write() as connection:
        for table in AUDIT_TABLES:
            connection.execute(delete(table))
    with running_server(database_url) as base, httpx.Client(base_url=base, timeout=10) as http:
        token = served_token(base)
        for _ in range(3):
            created = http.post(
                "/fhir/ServiceRequest", json=service_request(), headers=FHIR | token | END_USER
            )
            assert created.status_code == 201, created.text
            read = http.get(f"/fhir/ServiceRequest/{created.json()['id']}", headers=token)
            assert read.status_code == 200
        assert http.get("/fhir/ServiceRequest/missing", headers=token).status_code == 404
        assert http.get("/fhir/ServiceRequest").status_code == 401
        ig = served_token(base, "demo-ig-lead")
        found = http.get("/fhir/AuditEvent", params={"patient": PATIENT_NHS_NUMBER}, headers=ig)
        assert found.status_code == 200
    checkpoint = _gateway(database_url, "checkpoint")
    assert checkpoint.returncode == 0, checkpoint.stderr
    with database.read() as connection:
        snapshot = {
            table.name: [dict(row._mapping) for row in connection.execute(select(table))]
            for table in AUDIT_TABLES
        }
    try:
        yield Store(database_url, database, snapshot)
    finally:
        database.dispose()


@pytest.fixture
def store(written: Store) -> Iterator[Store]:
    """The written log; put back as it was after the test's edits."""
    yield written
    with written.database.write() as connection:
        for table in reversed(AUDIT_TABLES):
            connection.execute(delete(table))
        for table in AUDIT_TABLES:
            if written.snapshot[table.name]:
                connection.execute(insert(table), written.snapshot[table.name])


def _events(connection: Connection) -> list[dict[str, Any]]:
    query = select(audit_events).order_by(audit_events.c.position)
    return [dict(row._mapping) for row in connection.execute(query)]


def _failed_at(store: Store, position: int, event_id: str | None, *named: str) -> str:
    # In this process: each test here runs it; the tests above and below run the process.
    result = gateway_in_process(store.url, "audit", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAILED verification at position {position}:" in result.stderr
    if event_id is not None:
        assert event_id in result.stderr
    for words in named:
        assert words in result.stderr
    return result.stderr


def test_the_untouched_log_verifies_and_says_nothing_waits(store: Store) -> None:
    result = _gateway(store.url, "verify")
    assert result.returncode == 0, result.stderr
    assert "every searched column and reference row matches" in result.stdout
    assert "0 events waiting to be sequenced" in result.stdout


def test_the_patient_changed_on_many_events_is_found_at_the_first(store: Store) -> None:
    with store.database.write() as connection:
        about = [e for e in _events(connection) if e["patient"] == PATIENT_NHS_NUMBER]
        assert len(about) >= 6
        connection.execute(
            update(audit_events)
            .where(audit_events.c.patient == PATIENT_NHS_NUMBER)
            .values(patient=OTHER_NHS_NUMBER)
        )
    first = about[0]
    _failed_at(store, first["position"], first["event_id"], "the patient column")


def _changed(column: str, value: Any) -> Any:
    if column == "recorded":
        return value + timedelta(seconds=1)
    if column == "outcome":
        return 8 if value != 8 else 0
    if column == "action":
        return "D" if value != "D" else "R"
    if value is None:
        return "AZZ" if column == "ods_code" else "forged"
    return "QZZ" if column == "ods_code" else f"{value[:60]}x"


@pytest.mark.parametrize(
    "column",
    [
        "event_id",
        "recorded",
        "client_id",
        "ods_code",
        "subtype",
        "action",
        "outcome",
        "purpose",
        "request_id",
    ],
)
def test_each_other_searched_column_changed_is_found(store: Store, column: str) -> None:
    with store.database.write() as connection:
        events = _events(connection)
        # An event in the middle, with a value in the column where one can be found.
        middle = events[len(events) // 2 :]
        target = next((e for e in middle if e[column] is not None), middle[0])
        connection.execute(
            update(audit_events)
            .where(audit_events.c.seq == target["seq"])
            .values({column: _changed(column, target[column])})
        )
    _failed_at(store, target["position"], None, f"the {column} column", f"seq {target['seq']}")


def _references(connection: Connection, kind: str) -> list[dict[str, Any]]:
    refs = audit_references.c
    query = (
        select(refs.kind, refs.value, refs.event_seq, audit_events.c.position)
        .join(audit_events, audit_events.c.seq == refs.event_seq)
        .where(refs.kind == kind)
        .order_by(audit_events.c.position)
    )
    return [dict(row._mapping) for row in connection.execute(query)]


@pytest.mark.parametrize("kind", ["entity", "agent", "org"])
def test_deleted_reference_rows_are_found(store: Store, kind: str) -> None:
    with store.database.write() as connection:
        rows = _references(connection, kind)
        assert rows, f"the written log has {kind} references"
        doomed = rows[len(rows) // 2 :]
        refs = audit_references.c
        for row in doomed:
            connection.execute(
                delete(audit_references).where(
                    refs.kind == row["kind"],
                    refs.value == row["value"],
                    refs.event_seq == row["event_seq"],
                )
            )
    first = doomed[0]
    _failed_at(store, first["position"], None, f"a reference row ({kind})", "is missing")


@pytest.mark.parametrize(
    ("kind", "value"),
    [("entity", "ServiceRequest/forged"), ("agent", "forged-practitioner"), ("org", "QZZ")],
    ids=["entity", "agent", "org"],
)
def test_a_forged_reference_row_is_found(store: Store, kind: str, value: str) -> None:
    with store.database.write() as connection:
        events = _events(connection)
        target = events[len(events) // 2]
        connection.execute(
            insert(audit_references).values(kind=kind, value=value, event_seq=target["seq"])
        )
    named = f"a reference row ({kind}) names what the event's bytes do not"
    _failed_at(store, target["position"], target["event_id"], named)


def test_a_reference_row_for_no_event_is_found(store: Store) -> None:
    with store.database.write() as connection:
        connection.execute(
            insert(audit_references).values(kind="entity", value="ServiceRequest/x", event_seq=-7)
        )
    result = _gateway(store.url, "verify")
    assert result.returncode == 1
    assert "seq -7: reference rows name an event not in the log" in result.stderr


def test_the_search_and_report_never_answer_on_a_tampered_value(store: Store) -> None:
    with store.database.write() as connection:
        events = _events(connection)
        target = next(e for e in events if e["patient"] == PATIENT_NHS_NUMBER)
        connection.execute(
            update(audit_events)
            .where(audit_events.c.seq == target["seq"])
            .values(patient=OTHER_NHS_NUMBER)
        )
        refused = next(e for e in events if e["client_id"] is None)  # the 401
        connection.execute(
            insert(audit_references).values(
                kind="entity", value="ServiceRequest/forged", event_seq=refused["seq"]
            )
        )
    with running_server(store.url) as base, httpx.Client(base_url=base, timeout=10) as http:
        ig = served_token(base, "demo-ig-lead")
        asked = [
            http.get("/fhir/AuditEvent", params={"patient": OTHER_NHS_NUMBER}, headers=ig),
            http.get("/fhir/AuditEvent", params={"entity": "ServiceRequest/forged"}, headers=ig),
            http.get(f"/fhir/AuditEvent/{target['event_id']}", headers=ig),
            http.post(
                "/audit/reports/patient-access",
                data={"patient": OTHER_NHS_NUMBER, "format": "csv"},
                headers=ig,
            ),
            http.post(
                "/audit/reports/patient-access",
                data={"patient": OTHER_NHS_NUMBER, "format": "ndjson"},
                headers=ig,
            ),
        ]
        for response in asked:
            assert response.status_code == 500, response.text
            outcome = response.json()
            assert outcome["resourceType"] == "OperationOutcome"
            assert "failed an integrity check" in outcome["issue"][0]["diagnostics"]
            assert OTHER_NHS_NUMBER not in response.text
            assert target["event_id"] not in response.text
        # An untouched event, searched on its own values, is still shown.
        untouched = http.get("/fhir/AuditEvent", params={"patient": PATIENT_NHS_NUMBER}, headers=ig)
        assert untouched.status_code == 200, untouched.text
        shown = {entry["resource"]["id"] for entry in untouched.json()["entry"]}
        assert shown
        assert target["event_id"] not in shown
        metrics = http.get("/metrics").text
        assert "gateway_audit_integrity_failures_total 5.0" in metrics
