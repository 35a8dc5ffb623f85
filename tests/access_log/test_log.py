"""Appending to the access log: each event records, in its own canonical bytes, the
organisations its data concerns as the store held the version named, and the "org" rows
the IG leads' views filter on are exactly what those bytes vouch for, on both databases."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event, select

from core.access_log.event import AuditedData, AuditFacts
from core.codes import audit as audit_codes
from core.search.query import PagingLimits
from gateway.access_log import log as audit_log
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, audit_references
from tests.access_log.events import facts
from tests.builders import ods_reference, service_request

ORIGIN, PARTY = audit_codes.DETAIL_DATA_ORIGIN.uri, audit_codes.DETAIL_DATA_PARTY.uri


def _referral_in_two_versions(database: Database) -> str:
    """AZZ's referral to RZZ (version 1), then to R1A (version 2)."""
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), PagingLimits(20, 100))
        first = service.create("ServiceRequest", service_request()).record
        body = {**service_request(performer=[ods_reference("R1A")]), "id": first.id}
        service.update("ServiceRequest", first.id, body)
    return first.id


def _naming(number: int, *data: AuditedData) -> AuditFacts:
    return dataclasses.replace(facts(number), data=data)


def _logged(connection: Connection) -> dict[str, tuple[dict[str, Any], bytes, set[str]]]:
    """Per event id: its JSON, its canonical bytes, and the ODS codes of its "org" rows."""
    rows = connection.execute(
        select(audit_events.c.seq, audit_events.c.event_id, audit_events.c.content)
    )
    by_seq = {seq: (event_id, bytes(content)) for seq, event_id, content in rows}
    orgs: dict[int, set[str]] = {seq: set() for seq in by_seq}
    references = audit_references.c
    for seq, value in connection.execute(
        select(references.event_seq, references.value).where(
            references.kind == audit_log.ORGANISATION
        )
    ):
        orgs[seq].add(value)
    return {
        event_id: (json.loads(content), content, orgs[seq])
        for seq, (event_id, content) in by_seq.items()
    }


def _details(event: dict[str, Any]) -> list[list[tuple[str, str]]]:
    data = [
        e
        for e in event.get("entity", [])
        if e.get("role") == audit_codes.ROLE_DOMAIN_RESOURCE.coding()
    ]
    return [[(d["type"], d["valueString"]) for d in e.get("detail", [])] for e in data]


def test_each_event_records_the_organisations_of_the_version_it_names(
    database: Database,
) -> None:
    referral = _referral_in_two_versions(database)
    events = [
        _naming(1, AuditedData("ServiceRequest", referral, 1)),
        _naming(2, AuditedData("ServiceRequest", referral, 2)),
        _naming(3, AuditedData("ServiceRequest", referral, None)),  # as it is now
        _naming(4, AuditedData("ServiceRequest", "not-stored", 1)),
        _naming(5),
    ]
    with database.write() as connection:
        audit_log.append(connection, events)
    with database.read() as connection:
        logged = _logged(connection)

    first, second, now, missing, none = (logged[e.event_id] for e in events)
    rzz = [(ORIGIN, "AZZ"), (PARTY, "AZZ"), (PARTY, "RZZ")]
    r1a = [(ORIGIN, "AZZ"), (PARTY, "AZZ"), (PARTY, "R1A")]
    assert [_details(json_) for json_, _, _ in (first, second, now, missing)] == [
        [rzz],
        [r1a],
        [r1a],
        [[]],  # the store does not hold it: it concerns nobody
    ]
    # The caller AZZ too: the rows are what the bytes say, and nothing else.
    assert first[2] == {"AZZ", "RZZ"}
    assert second[2] == now[2] == {"AZZ", "R1A"}
    assert missing[2] == none[2] == set()
    for _, content, orgs in logged.values():
        assert audit_log.organisation_references(content) == {
            (audit_log.ORGANISATION, ods) for ods in orgs
        }


def test_the_store_alone_says_which_organisations_the_data_concerns(
    database: Database,
) -> None:
    """Organisations a caller of append puts in the facts are replaced by the store's."""
    referral = _referral_in_two_versions(database)
    claimed = [
        _naming(1, AuditedData("ServiceRequest", referral, 1, "AXX", ("AXX",))),
        _naming(2, AuditedData("ServiceRequest", "not-stored", None, "AXX", ("AXX",))),
    ]
    with database.write() as connection:
        audit_log.append(connection, claimed)
    with database.read() as connection:
        logged = _logged(connection)

    assert logged[claimed[0].event_id][2] == {"AZZ", "RZZ"}
    assert logged[claimed[1].event_id][2] == set()
    assert all(b"AXX" not in content for _, content, _ in logged.values())


@contextmanager
def _reads(connection: Connection) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            seen.append(args[2])

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(connection, "before_cursor_execute", count)


def test_one_batched_lookup_per_append_however_many_events(database: Database) -> None:
    referral = _referral_in_two_versions(database)

    def append(count: int) -> int:
        events = [
            _naming(
                n,
                AuditedData("ServiceRequest", referral, 1 + n % 2),
                AuditedData("ServiceRequest", f"other-{n}", None),
            )
            for n in range(count)
        ]
        with database.write() as connection, _reads(connection) as seen:
            audit_log.append(connection, events)
        return len(seen)

    # Versions, current origins, current parties: three reads, not three per event.
    assert append(1) == append(40) == 3
