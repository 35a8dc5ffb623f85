"""What the access log indexes, read back from an AuditEvent's bytes alone: exactly the
facts it was built from, for any facts; older events (no organisation roles) by the
documented rule; and nothing a hostile value could confuse."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC
from typing import Any

from hypothesis import given, settings

from core.access_log.event import AuditedClient, AuditedEndUser, AuditFacts, audit_event
from core.access_log.event import canonical_json as canonical
from core.access_log.index import AGENT, ENTITY, ORGANISATION, AuditIndex, index_of
from core.codes import common as codes
from tests.core.access_log.test_event import FULL, MINIMAL, clean_text, facts_strategy

SDS_ROLE = "https://fhir.nhs.uk/Id/sds-role-profile-id"


def indexed(facts: AuditFacts) -> AuditIndex:
    return index_of(json.loads(canonical(audit_event(facts))))


def expected_references(facts: AuditFacts) -> set[tuple[str, str]]:
    """The rows as the log wrote them from the facts before they were derived."""
    found = {(ENTITY, f"{data.resource_type}/{data.resource_id}") for data in facts.data}
    found.update((ORGANISATION, ods) for data in facts.data for ods in data.organisations)
    if facts.end_user is not None:
        if facts.end_user.organisation_ods:
            found.add((AGENT, facts.end_user.organisation_ods))
        found.update((AGENT, value[:255]) for _, value in facts.end_user.practitioner_identifiers)
    return found


@settings(deadline=None, max_examples=200)
@given(facts_strategy(clean_text, clean_text.filter(lambda text: text.split() == [text])))
def test_every_searched_value_reads_back_as_the_facts_gave_it(facts: AuditFacts) -> None:
    index = indexed(facts)
    assert index.columns() == {
        "event_id": facts.event_id,
        "recorded": facts.recorded.astimezone(UTC),
        "patient": facts.patient,
        "client_id": facts.client.client_id if facts.client else None,
        "ods_code": facts.client.ods_code if facts.client else None,
        "subtype": facts.subtype.code,
        "action": facts.action,
        "outcome": facts.outcome,
        "purpose": facts.purpose_of_use[0].code if facts.purpose_of_use else None,
        "request_id": facts.request_id,
    }
    assert index.references == expected_references(facts)
    assert index.optional == frozenset()


def test_a_full_event() -> None:
    index = indexed(FULL)
    assert (index.client_id, index.ods_code, index.patient) == ("provider-epr", "RXA", "9434765919")
    assert index.references == {
        (ENTITY, "ServiceRequest/sr-1"),
        (ENTITY, "Flag/f-1"),
        (AGENT, "A81001"),
        (AGENT, "555021935107"),
        (AGENT, "5550219"),
    }
    assert indexed(MINIMAL).columns()["client_id"] is None
    assert indexed(MINIMAL).references == frozenset()


def test_an_end_user_claiming_the_client_id_system_is_not_the_client() -> None:
    facts = dataclasses.replace(
        FULL,
        client=AuditedClient(None, "RXA", "192.0.2.10"),  # refused before identified
        end_user=AuditedEndUser(None, ((codes.CLIENT_ID_SYSTEM, "someone-else"),)),
    )
    index = indexed(facts)
    assert index.client_id is None
    assert (AGENT, "someone-else") in index.references


def test_malformed_bytes_vouch_for_nothing() -> None:
    for event in (None, [], {"agent": "x", "entity": [1, {"type": 2}], "subtype": {}}):
        index = index_of(event)
        assert set(index.columns().values()) == {None}
        assert index.references == frozenset()


def older(facts: AuditFacts) -> dict[str, Any]:
    """The event as written before organisation agents carried their roles."""
    event = audit_event(facts)
    for agent in event["agent"]:
        agent.pop("role", None)
    return event


def test_an_older_event_follows_the_builders_order() -> None:
    # Two organisations: the end user's first, then the client's.
    index = index_of(older(FULL))
    assert index.ods_code == "RXA"
    assert (AGENT, "A81001") in index.references
    assert index.optional == frozenset()
    # One organisation: the client's; whether the end user was in it too is unknowable.
    for end_user in (None, AuditedEndUser("RXA", ((SDS_ROLE, "555021935107"),))):
        index = index_of(older(dataclasses.replace(FULL, end_user=end_user)))
        assert index.ods_code == "RXA"
        assert index.optional == {(AGENT, "RXA")}
        assert (AGENT, "RXA") not in index.references
    # An unidentified caller is nobody's organisation.
    unidentified = dataclasses.replace(FULL, client=AuditedClient(None, None, "192.0.2.1"))
    assert index_of(older(unidentified)).ods_code is None
