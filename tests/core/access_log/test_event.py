"""AuditFacts -> FHIR R4 AuditEvent (IHE BALP shapes), and the canonical bytes the log hashes."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.access_log.event import (
    AuditedClient,
    AuditedData,
    AuditedDecision,
    AuditedEndUser,
    AuditFacts,
    AuditOutcome,
    EventKind,
    audit_event,
    canonical_json,
    data_organisations,
)
from core.codes import audit as audit_codes
from core.codes import catalogue
from core.codes import common as codes
from core.codes import sharing as sharing_codes
from core.codes.audit import SUBTYPES, Subtype
from core.codes.common import Code
from core.fhir.patients import fact_identifier
from tests.fhir_judge import assert_valid_fhir

BASE = "https://gateway.example.org/fhir"
SDS_ROLE = "https://fhir.nhs.uk/Id/sds-role-profile-id"
SDS_USER = "https://fhir.nhs.uk/Id/sds-user-id"
WHEN = datetime(2024, 3, 1, 13, 0, 0, 120, tzinfo=timezone(timedelta(hours=1)))
FULL = AuditFacts(
    event_id="5f0c6f0e-0d3c-4c8e-9b7a-2f1d7f2a9e01",
    recorded=WHEN,
    kind=EventKind.REST,
    subtype=Subtype.READ,
    action="R",
    outcome=AuditOutcome.SUCCESS,
    outcome_desc=None,
    client=AuditedClient("provider-epr", "RXA", "192.0.2.10"),
    end_user=AuditedEndUser("A81001", ((SDS_ROLE, "555021935107"), (SDS_USER, "5550219"))),
    gateway_base_url=BASE,
    purpose_of_use=(sharing_codes.PURPOSE_DIRECT_CARE,),
    patient="9434765919",
    data=(AuditedData("ServiceRequest", "sr-1", 2), AuditedData("Flag", "f-1", None)),
    query=b"status=active&_count=10",
    request_id="req-60c8",
    correlation_id="corr-7d1e",
    decision=AuditedDecision("agreement DSA-7 v3", "provision 2: direct care"),
)
MINIMAL = dataclasses.replace(
    FULL,
    client=None,
    end_user=None,
    purpose_of_use=(),
    patient=None,
    data=(),
    query=None,
    request_id=None,
    correlation_id=None,
    decision=None,
)


def build(**changes: Any) -> dict[str, Any]:
    event = audit_event(dataclasses.replace(FULL, **changes))
    assert_valid_fhir(event)
    return event


def agent(event: dict[str, Any], code: Code) -> dict[str, Any]:
    [found] = [a for a in event["agent"] if a["type"]["coding"] == [code.coding()]]
    return found


def entities(event: dict[str, Any], code: Code) -> list[dict[str, Any]]:
    return [e for e in event.get("entity", []) if e["type"] == code.coding()]


def leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("subtype", SUBTYPES, ids=lambda code: code.code)
@pytest.mark.parametrize("kind", list(EventKind), ids=lambda kind: kind.value)
@pytest.mark.parametrize("base", [FULL, MINIMAL], ids=["full", "minimal"])
def test_every_kind_and_subtype_is_valid_fhir(
    base: AuditFacts, kind: EventKind, subtype: Code
) -> None:
    event = audit_event(dataclasses.replace(base, kind=kind, subtype=subtype))
    assert_valid_fhir(event)
    assert event["type"] == kind.event_type.coding()
    assert subtype.coding() in event["subtype"]


def test_type_subtype_time_outcome_and_purpose() -> None:
    event = build()
    assert event["type"] == audit_codes.EVENT_TYPE_REST.coding()
    assert event["subtype"] == [Subtype.READ.coding()]
    assert event["recorded"] == "2024-03-01T12:00:00.000120Z"  # UTC, microseconds, Z
    assert event["purposeOfEvent"] == [{"coding": [sharing_codes.PURPOSE_DIRECT_CARE.coding()]}]
    assert "purposeOfEvent" not in build(purpose_of_use=())
    assert [build(outcome=outcome)["outcome"] for outcome in (0, 4, 8)] == ["0", "4", "8"]
    alert = build(kind=EventKind.SECURITY_ALERT, subtype=Subtype.BREAK_GLASS, action="E")
    assert alert["type"]["code"] == "110113"
    assert alert["subtype"] == [Subtype.BREAK_GLASS.coding()]
    # A FHIR operation the gateway names: `operation`, then which one.
    message = build(subtype=Subtype.PROCESS_MESSAGE, action="C")
    assert message["subtype"] == [Subtype.OPERATION.coding(), Subtype.PROCESS_MESSAGE.coding()]


def test_the_client_agent() -> None:
    client = agent(build(subtype=Subtype.CREATE, action="C"), audit_codes.AGENT_SOURCE_ROLE)
    assert client["who"] == {
        "identifier": {"system": codes.CLIENT_ID_SYSTEM, "value": "provider-epr"}
    }
    assert client["network"] == {"address": "192.0.2.10", "type": "2"}
    assert client["requestor"] is False  # the end user asked
    alone = agent(build(end_user=None), audit_codes.AGENT_DESTINATION_ROLE)
    assert alone["requestor"] is True
    unaddressed = dataclasses.replace(FULL.client, network_address=None)
    assert "network" not in agent(build(client=unaddressed), audit_codes.AGENT_DESTINATION_ROLE)


def test_the_gateway_is_an_agent_and_the_observer() -> None:
    event = build(subtype=Subtype.CREATE, action="C")
    gateway = agent(event, audit_codes.AGENT_DESTINATION_ROLE)
    assert gateway["who"] == {"identifier": {"system": "urn:ietf:rfc:3986", "value": BASE}}
    assert gateway["network"] == {"address": BASE, "type": "5"}
    assert gateway["requestor"] is False
    assert event["source"] == {
        "observer": gateway["who"],
        "type": [audit_codes.SOURCE_APPLICATION_SERVER.coding()],
    }
    [alone] = audit_event(dataclasses.replace(MINIMAL, kind=EventKind.APPLICATION))["agent"]
    assert alone["requestor"] is True


SOURCE, DESTINATION = audit_codes.AGENT_SOURCE_ROLE, audit_codes.AGENT_DESTINATION_ROLE
APPLICATION, LAUNCHER = audit_codes.AGENT_APPLICATION, audit_codes.AGENT_APPLICATION_LAUNCHER
REST, ALERT = EventKind.REST, EventKind.SECURITY_ALERT


@pytest.mark.parametrize(
    ("kind", "subtype", "client_type", "gateway_type"),
    [
        # BALP Create, Update, Query: the request flows from client to server.
        (REST, Subtype.CREATE, SOURCE, DESTINATION),
        (REST, Subtype.UPDATE, SOURCE, DESTINATION),
        (REST, Subtype.SEARCH_TYPE, SOURCE, DESTINATION),
        (REST, Subtype.PROCESS_MESSAGE, SOURCE, DESTINATION),
        # BALP Read: the data flows from server to client.
        (REST, Subtype.READ, DESTINATION, SOURCE),
        (REST, Subtype.VREAD, DESTINATION, SOURCE),
        (REST, Subtype.HISTORY_INSTANCE, DESTINATION, SOURCE),
        # BALP Delete.
        (REST, Subtype.DELETE, APPLICATION, audit_codes.AGENT_CUSTODIAN),
        # IUA ITI-71 in BALP; BALP AuthZconsent; DICOM PS3.15 A.5.3.1.
        (EventKind.AUTHENTICATION, Subtype.LOGIN, APPLICATION, audit_codes.AGENT_OAUTH_SERVER),
        (ALERT, Subtype.CONSENT_DENIAL, APPLICATION, audit_codes.AGENT_AUTHORIZATION_SERVER),
        (EventKind.APPLICATION, Subtype.AUDIT_EXPORT, LAUNCHER, APPLICATION),
    ],
)
def test_agent_types_follow_the_balp_profile(
    kind: EventKind, subtype: Code, client_type: Code, gateway_type: Code
) -> None:
    event = build(kind=kind, subtype=subtype)
    assert agent(event, client_type)["who"]["identifier"]["system"] == codes.CLIENT_ID_SYSTEM
    assert agent(event, gateway_type)["who"]["identifier"]["value"] == BASE


IRCP, AUT = audit_codes.AGENT_INFORMATION_RECIPIENT, audit_codes.AGENT_AUTHOR


@pytest.mark.parametrize(
    ("action", "role"), [("R", IRCP), ("E", IRCP), ("C", AUT), ("U", AUT), ("D", AUT)]
)
def test_the_end_user_agent(action: str, role: Code) -> None:
    user = agent(build(action=action), role)
    assert user["requestor"] is True
    assert user["who"] == {"identifier": {"system": SDS_ROLE, "value": "555021935107"}}
    assert "network" not in user
    assert user["extension"] == [
        {
            "url": "https://profiles.ihe.net/ITI/BALP/StructureDefinition/ihe-otherId",
            "valueIdentifier": {
                "type": {"coding": [audit_codes.IDENTIFIER_TYPE_PROVIDER_NUMBER.coding()]},
                "system": SDS_USER,
                "value": "5550219",
            },
        }
    ]


def test_no_user_agent_without_a_practitioner() -> None:
    event = build(end_user=AuditedEndUser("A81001", ()))
    types = [a["type"]["coding"][0]["code"] for a in event["agent"]]
    assert "IRCP" not in types
    assert "AUT" not in types
    assert agent(event, audit_codes.AGENT_DESTINATION_ROLE)["requestor"] is True


def ods_of(event: dict[str, Any]) -> list[str]:
    organisations = [
        a
        for a in event["agent"]
        if a["type"]["coding"] == [audit_codes.AGENT_HEALTHCARE_PROVIDER.coding()]
    ]
    for organisation in organisations:
        assert organisation["requestor"] is False
        assert organisation["who"]["type"] == "Organization"
        assert organisation["who"]["identifier"]["system"] == codes.ODS_ORGANISATION_SYSTEM
    return [organisation["who"]["identifier"]["value"] for organisation in organisations]


def test_organisations_are_agents_of_their_own() -> None:
    assert ods_of(build()) == ["A81001", "RXA"]  # the end user's, then the client's
    assert ods_of(build(end_user=AuditedEndUser("RXA", ()))) == ["RXA"]
    assert ods_of(build(end_user=None)) == ["RXA"]
    assert ods_of(audit_event(MINIMAL)) == []


def test_the_patient_entity_only_when_a_patient_is_named() -> None:
    [patient] = entities(build(), audit_codes.ENTITY_PERSON)
    identifier = {"system": codes.NHS_NUMBER_SYSTEM, "value": "9434765919"}
    assert patient["what"] == {"type": "Patient", "identifier": identifier}
    assert patient["role"] == audit_codes.ROLE_PATIENT.coding()
    event = build(patient=None)
    assert entities(event, audit_codes.ENTITY_PERSON) == []
    assert codes.NHS_NUMBER_SYSTEM.encode() not in canonical_json(event)


def test_a_person_with_no_nhs_number_yet_is_named_by_their_local_identifier() -> None:
    system = "https://example-recovery.example.org/Id/client-number"
    [patient] = entities(build(patient=f"{system}|C-000417"), audit_codes.ENTITY_PERSON)
    identifier = {"system": system, "value": "C-000417"}
    assert patient["what"] == {"type": "Patient", "identifier": identifier}
    for half_named in ("|C-000417", f"{system}|"):
        with pytest.raises(ValueError, match="patient"):
            dataclasses.replace(FULL, patient=half_named)


def test_data_and_query_entities() -> None:
    objects = entities(build(), audit_codes.ENTITY_SYSTEM_OBJECT)
    data = [e for e in objects if e["role"] == audit_codes.ROLE_DOMAIN_RESOURCE.coding()]
    assert [e["what"] for e in data] == [
        {"reference": "ServiceRequest/sr-1/_history/2"},
        {"reference": "Flag/f-1"},
    ]
    [query] = [e for e in objects if e["role"] == audit_codes.ROLE_QUERY.coding()]
    assert base64.b64decode(query["query"]) == b"status=active&_count=10"
    assert "what" not in query
    [empty] = entities(build(data=(), query=b""), audit_codes.ENTITY_SYSTEM_OBJECT)
    assert empty["role"] == audit_codes.ROLE_QUERY.coding()
    assert "query" not in empty
    assert entities(build(data=(), query=None), audit_codes.ENTITY_SYSTEM_OBJECT) == []


ORIGIN, PARTY = audit_codes.DETAIL_DATA_ORIGIN.uri, audit_codes.DETAIL_DATA_PARTY.uri


def test_a_data_entity_names_the_organisations_its_data_concerns() -> None:
    referral = AuditedData("ServiceRequest", "sr-1", 2, "AZZ", ("RZZ", "AZZ", "RZZ"))
    # Its origin alone (a party list the store no longer has), or nothing (not stored).
    event = build(data=(referral, AuditedData("Flag", "f-1", None, "AXX"), FULL.data[1]))

    data = entities(event, audit_codes.ENTITY_SYSTEM_OBJECT)[:3]
    assert data[0]["what"] == {"reference": "ServiceRequest/sr-1/_history/2"}
    assert data[0]["detail"] == [
        {"type": ORIGIN, "valueString": "AZZ"},
        {"type": PARTY, "valueString": "AZZ"},  # parties sorted, each once, origin included
        {"type": PARTY, "valueString": "RZZ"},
    ]
    assert data[1]["detail"] == [{"type": ORIGIN, "valueString": "AXX"}]
    assert "detail" not in data[2]
    assert (
        ORIGIN == "https://fhir.mh-gateway.example.org/CodeSystem/audit-entity-detail#data-origin"
    )
    # They are what the data concerns, not actors in the event: the agents are unchanged.
    assert event["agent"] == build()["agent"]
    assert data_organisations(json.loads(canonical_json(event))) == {"AZZ", "RZZ", "AXX"}
    assert data_organisations(build()) == frozenset()


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"entity": "not a list"},
        {"entity": [None, {"detail": "x"}, {"role": audit_codes.ROLE_DOMAIN_RESOURCE.coding()}]},
        # Our detail types anywhere but on a data entity are not the data's organisations.
        {"entity": [{"type": audit_codes.ENTITY_DECISION_RULE.coding(),
                     "detail": [{"type": ORIGIN, "valueString": "AZZ"}]}]},
        {"entity": [{"type": audit_codes.ENTITY_SYSTEM_OBJECT.coding(),
                     "role": audit_codes.ROLE_DOMAIN_RESOURCE.coding(),
                     "detail": [None, {"type": "other", "valueString": "AZZ"},
                                {"type": PARTY, "valueString": 7}, {"type": PARTY}]}]},
    ],
)  # fmt: skip
def test_reading_the_organisations_back_takes_only_the_data_entities_details(
    event: dict[str, Any],
) -> None:
    assert data_organisations(event) == frozenset()


def test_request_ids_and_the_decision_are_entities() -> None:
    event = build()
    [request] = entities(event, audit_codes.ENTITY_REQUEST_ID)
    assert request["what"]["identifier"] == {
        "system": codes.X_REQUEST_ID_SYSTEM,
        "value": "req-60c8",
    }
    [correlation] = entities(event, audit_codes.ENTITY_CORRELATION_ID)
    assert correlation["what"]["identifier"]["system"] == codes.X_CORRELATION_ID_SYSTEM
    assert correlation["what"]["identifier"]["value"] == "corr-7d1e"
    [decision] = entities(event, audit_codes.ENTITY_DECISION_RULE)
    assert decision["name"] == "agreement DSA-7 v3"
    assert decision["description"] == "provision 2: direct care"
    bare = build(decision=AuditedDecision("default: deny", None), request_id=None)
    assert "description" not in entities(bare, audit_codes.ENTITY_DECISION_RULE)[0]
    assert entities(bare, audit_codes.ENTITY_REQUEST_ID) == []
    assert entities(build(decision=None), audit_codes.ENTITY_DECISION_RULE) == []


def test_outcome_desc_is_passed_through_unchanged_and_is_the_only_free_text() -> None:
    text = "Refused: agreement DSA-7 v3 does not cover this purpose.\nSecond line — ü"
    event = build(outcome=AuditOutcome.MINOR_FAILURE, outcome_desc=text, decision=None)
    assert event["outcomeDesc"] == text
    assert [leaf for leaf in leaves(event) if "Refused" in leaf] == [text]
    assert "outcomeDesc" not in build()


@pytest.mark.parametrize("text", ["", "   ", "non\u00a0breaking", "nul\x00", "line\u2028break"])
def test_text_fhir_cannot_carry_is_refused_where_the_gateway_writes_it(text: str) -> None:
    with pytest.raises(ValueError, match="outcome_desc") as refused:
        dataclasses.replace(FULL, outcome_desc=text)
    if text.strip():
        assert text not in str(refused.value)  # errors never repeat the value
    with pytest.raises(ValueError, match="decision rule"):
        AuditedDecision(text, None)


def test_hostile_values_from_the_wire_are_recorded_escaped() -> None:
    event = build(
        client=AuditedClient("evil\u2028client\x00", None, "10.0.0.1\u0085"),
        request_id="r\u00a0id",
        data=(AuditedData("Patient", "a b\u200bc\x1f", None),),
        end_user=AuditedEndUser(None, (("https://sds example\n", "x\ud800"),)),
        gateway_base_url="http://spoofed host",  # a Host header
    )
    assert event["source"]["observer"]["identifier"]["value"] == "http://spoofed\\u0020host"
    client = agent(event, audit_codes.AGENT_DESTINATION_ROLE)
    assert client["who"]["identifier"]["value"] == "evil\\u2028client\\u0000"
    assert client["network"]["address"] == "10.0.0.1\\u0085"
    [request] = entities(event, audit_codes.ENTITY_REQUEST_ID)
    assert request["what"]["identifier"]["value"] == "r\\u00a0id"
    data = entities(event, audit_codes.ENTITY_SYSTEM_OBJECT)[0]
    assert data["what"]["reference"] == "Patient/a b\u200bc\\u001f"
    user = agent(event, audit_codes.AGENT_INFORMATION_RECIPIENT)
    assert user["who"]["identifier"] == {
        "system": "https://sds\\u0020example\\u000a",
        "value": "x\\ud800",
    }


@pytest.mark.parametrize(
    "make",
    [
        lambda: AuditedClient("", None, None),
        lambda: AuditedEndUser("A81001", (("", "x"),)),
        lambda: AuditedData("Flag", "", None),
        lambda: AuditedData("Flag", "f", 0),
        lambda: AuditedData("Flag", "f", None, ""),
        lambda: AuditedData("Flag", "f", None, "rzz"),
        lambda: AuditedData("Flag", "f", None, "RZZ", ("RZZ", "R Z")),
        lambda: dataclasses.replace(FULL, request_id=""),
        lambda: dataclasses.replace(FULL, recorded=datetime(2024, 3, 1)),  # naive
        lambda: dataclasses.replace(FULL, event_id="not an id"),
        lambda: dataclasses.replace(FULL, action="X"),
        lambda: dataclasses.replace(FULL, outcome=12),
        lambda: dataclasses.replace(FULL, gateway_base_url="gateway.example.org"),
    ],
)
def test_malformed_facts_are_refused(make: Any) -> None:
    with pytest.raises(ValueError, match="must"):
        make()


def reversed_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_canonical_json_is_sorted_compact_utf8_and_key_order_independent() -> None:
    event = build(outcome_desc="Refusé")
    canonical = canonical_json(event)
    assert canonical == canonical_json(reversed_keys(event))
    assert canonical == canonical_json(MappingProxyType(event))
    assert canonical.startswith(b'{"action":"R","agent":[{')
    assert "Refusé".encode() in canonical  # ensure_ascii=False
    compact = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical == compact.encode("utf-8")
    assert json.loads(canonical) == event


def test_canonical_json_never_holds_a_line_break() -> None:
    text = "a\nb\rc\u0085d\u2028e\u2029f"
    canonical = canonical_json({"outcomeDesc": text})
    assert len(canonical.decode().splitlines()) == 1
    assert b"\n" not in canonical
    assert b"\r" not in canonical
    assert json.loads(canonical) == {"outcomeDesc": text}


def test_canonical_json_refuses_what_json_cannot_say() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": float("nan")})
    with pytest.raises(TypeError):
        canonical_json({"x": object()})


# --- Properties ---------------------------------------------------------------------------

# Text a FHIR string carries as it is, and text from the wire that may be anything.
CLEAN = st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), include_characters=" ")
clean_text = st.text(CLEAN, min_size=1, max_size=40).filter(str.strip)
HOSTILE = st.characters(codec=None, categories=["Cs", "Cc", "Zs", "Zl", "Zp"])
wire_text = st.text(st.one_of(CLEAN, HOSTILE), min_size=1, max_size=40)


def facts_strategy(
    text: st.SearchStrategy[str], system: st.SearchStrategy[str]
) -> st.SearchStrategy[AuditFacts]:
    optional = st.none() | text
    unbarred = text.filter(lambda value: "|" not in value)
    local = st.builds(lambda system, value: f"{system}|{value}", system, unbarred)
    patients = st.none() | unbarred | local.filter(lambda fact: not fact.startswith("|"))
    identifiers = st.lists(st.tuples(system, text), max_size=3).map(tuple)
    purposes = st.lists(st.sampled_from(list(sharing_codes.PURPOSES_OF_USE.values())), max_size=3)
    ods = st.from_regex(r"[A-Z0-9]{3,10}", fullmatch=True)
    data = st.builds(
        AuditedData,
        text,
        text,
        st.none() | st.integers(1, 10**9),
        st.none() | ods,
        st.lists(ods, max_size=3).map(tuple),
    )
    uri = st.from_regex(r"https://[a-z]{1,12}\.example(/[a-z0-9-]{1,10}){0,2}", fullmatch=True)
    offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
    return st.builds(
        AuditFacts,
        event_id=st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True),
        recorded=st.datetimes(
            min_value=datetime(1900, 1, 2),
            max_value=datetime(2200, 1, 1),
            timezones=st.builds(timezone, offsets),
        ),
        kind=st.sampled_from(EventKind),
        subtype=st.sampled_from(SUBTYPES),
        action=st.sampled_from(["C", "R", "U", "D", "E"]),
        outcome=st.sampled_from([0, 4, 8]),
        outcome_desc=st.none() | clean_text,
        client=st.none() | st.builds(AuditedClient, text, optional, optional),
        end_user=st.none() | st.builds(AuditedEndUser, optional, identifiers),
        gateway_base_url=uri,
        purpose_of_use=purposes.map(tuple),
        patient=patients,
        data=st.lists(data, max_size=3).map(tuple),
        query=st.none() | st.binary(max_size=64),
        request_id=optional,
        correlation_id=optional,
        decision=st.none() | st.builds(AuditedDecision, clean_text, st.none() | clean_text),
    )  # fmt: skip


@settings(deadline=None, max_examples=150)
@given(facts_strategy(wire_text, wire_text))
def test_any_facts_build_a_valid_auditevent_and_one_canonical_line(facts: AuditFacts) -> None:
    event = audit_event(facts)
    assert_valid_fhir(event)
    recorded = datetime.fromisoformat(event["recorded"].replace("Z", "+00:00"))
    assert recorded == facts.recorded
    assert recorded.tzinfo == UTC
    canonical = canonical_json(event)
    assert len(canonical.decode("utf-8").splitlines()) == 1
    assert json.loads(canonical) == event
    assert (facts.patient is None) == (entities(event, audit_codes.ENTITY_PERSON) == [])
    # The organisations read back from the bytes are exactly those the facts gave.
    named = {ods for item in facts.data for ods in item.organisations}
    assert data_organisations(json.loads(canonical)) == named


def every_code_string() -> set[str]:
    found = [value for value in catalogue().values() if isinstance(value, Code)]
    found += SUBTYPES
    return {part for code in found for part in (code.system, code.code, code.display, code.uri)} | {
        value for value in catalogue().values() if isinstance(value, str)
    }


@settings(deadline=None, max_examples=150)
@given(facts_strategy(clean_text, clean_text.filter(lambda text: text.split() == [text])))
def test_every_string_written_is_a_code_or_comes_from_the_facts(facts: AuditFacts) -> None:
    """The builder invents no text: each string is a code, a fixed FHIR value, or a fact."""
    client, user = facts.client, facts.end_user
    practitioners = [
        part for pair in (user.practitioner_identifiers if user else ()) for part in pair
    ]
    given_text = {
        facts.event_id, facts.action, str(facts.outcome), facts.gateway_base_url,
        facts.outcome_desc, facts.request_id, facts.correlation_id,
        *(fact_identifier(facts.patient) if facts.patient else ()),
        *(item.reference for item in facts.data),
        *(ods for item in facts.data for ods in item.organisations),
        *((facts.decision.rule, facts.decision.detail) if facts.decision else ()),
        *((client.client_id, client.ods_code, client.network_address) if client else ()),
        *((user.organisation_ods,) if user else ()), *practitioners,
    }  # fmt: skip
    formatted = {"Patient", "Organization", "2", "5"}
    if facts.query:
        formatted.add(base64.b64encode(facts.query).decode())
    event = audit_event(facts)
    formatted.add(event["recorded"])
    assert set(leaves(event)) - {"AuditEvent"} <= given_text | formatted | every_code_string()
    if facts.outcome_desc is not None:
        assert event["outcomeDesc"] == facts.outcome_desc
