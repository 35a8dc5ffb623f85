"""Information-governance leads see their own organisation: the events in which it took
part, as the caller, as the origin of the data, or as a party to it (a recipient). The
one IG lead registered `access_log: system-wide` (the Trust's, which operates the demo
gateway) sees every event. The filter is part of the query, so paging holds exactly the
events in view; an event outside it is answered as one that does not exist."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.codes import audit as audit_codes
from gateway.access_log.log import ORGANISATION, organisation_references
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, audit_references
from tests.builders import PATIENT_NHS_NUMBER, ods_reference, service_request
from tests.tokens import THIRD_ODS

FHIR = {"Content-Type": "application/fhir+json"}
CATEGORY = "https://fhir.mh-gateway.example.org/CodeSystem/communication-category"


def _create(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> str:
    response = client.post(f"/fhir/{body['resourceType']}", json=body, headers={**FHIR, **headers})
    assert response.status_code == 201, response.text
    return f"{body['resourceType']}/{response.json()['id']}"


def _internal_referral(client: TestClient) -> str:
    """The provider AZZ's referral from one of its teams to another: AZZ's alone."""
    reference = _create(client, service_request(performer=[ods_reference("AZZ")]), {})
    assert client.get(f"/fhir/{reference}").status_code == 200
    return reference


def _third_referral(client: TestClient, third: dict[str, str], trust: dict[str, str]) -> str:
    """AXX's referral to the Trust, which reads it."""
    reference = _create(client, service_request(requester=ods_reference(THIRD_ODS)), third)
    assert client.get(f"/fhir/{reference}", headers=trust).status_code == 200
    return reference


def _events(client: TestClient, ig: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get("/fhir/AuditEvent", params={"_count": "100", **params}, headers=ig)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert "next" not in [link["relation"] for link in bundle["link"]]
    return [entry["resource"] for entry in bundle.get("entry", [])]


def _report(client: TestClient, ig: dict[str, str]) -> list[dict[str, Any]]:
    response = client.post(
        "/audit/reports/patient-access",
        data={"patient": PATIENT_NHS_NUMBER, "format": "ndjson"},
        headers=ig,
    )
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def _references(event: dict[str, Any]) -> list[str]:
    named = [entity.get("what", {}) for entity in event.get("entity", [])]
    return [what["reference"].split("/_history")[0] for what in named if "reference" in what]


def _clients(event: dict[str, Any]) -> set[str]:
    return {
        agent["who"]["identifier"]["value"]
        for agent in event["agent"]
        if agent.get("who", {}).get("identifier", {}).get("system", "").endswith("/client-id")
    }


def _about(events: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    return [event for event in events if reference in _references(event)]


def test_an_ig_lead_never_sees_a_referral_internal_to_another_provider(
    client: TestClient, third_ig_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    internal = _internal_referral(client)
    logged = _events(client, ig_token, entity=internal)
    assert {"demo-provider-epr"} == set().union(*map(_clients, logged))
    assert len(logged) >= 2  # its create and its read, in the system-wide view

    assert _about(_report(client, third_ig_token), internal) == []
    assert _about(_events(client, third_ig_token, patient=PATIENT_NHS_NUMBER), internal) == []
    assert _events(client, third_ig_token, entity=internal) == []
    assert client.post("/audit/checkpoints", headers=ig_token).status_code == 200
    for event in logged:
        read = client.get(f"/fhir/AuditEvent/{event['id']}", headers=third_ig_token)
        assert read.status_code == 404, read.text
        assert read.json()["issue"][0]["code"] == "not-found"
        proof = client.get(
            "/audit/proofs/inclusion", params={"event": event["id"]}, headers=third_ig_token
        )
        assert proof.status_code == 404, proof.text
        assert client.get(f"/fhir/AuditEvent/{event['id']}", headers=ig_token).status_code == 200
    # Each refused look is itself in the log, as the third IG lead's own event.
    refused = _events(client, third_ig_token, subtype="read", outcome="4")
    assert {e["id"] for e in logged} <= {r for e in refused for r in _ids_named(e)}


def _ids_named(event: dict[str, Any]) -> list[str]:
    return [ref.removeprefix("AuditEvent/") for ref in _references(event)]


def test_an_ig_lead_sees_every_event_its_organisation_took_part_in(
    client: TestClient,
    third_token: dict[str, str],
    trust_token: dict[str, str],
    third_ig_token: dict[str, str],
) -> None:
    referral = _third_referral(client, third_token, trust_token)
    # The provider AZZ asks for AXX's referral: refused (not a party), AXX's data all the same.
    assert client.get(f"/fhir/{referral}").status_code == 404
    # The Trust writes to AXX: AXX is the recipient.
    message = {
        "resourceType": "Communication",
        "status": "completed",
        "category": [{"coding": [{"system": CATEGORY, "code": "handover"}]}],
        "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number",
                                   "value": PATIENT_NHS_NUMBER}},
        "sender": ods_reference("RZZ"),
        "recipient": [ods_reference(THIRD_ODS)],
        "sent": "2026-11-20T11:00:00Z",
    }  # fmt: skip
    written = _create(client, message, trust_token)

    about_referral = _events(client, third_ig_token, entity=referral)
    callers = [_clients(event) for event in about_referral]
    assert {"test-third-provider"} in callers  # as the caller
    assert {"demo-trust-crisis"} in callers  # as the data's origin
    refused = [e for e in about_referral if _clients(e) == {"demo-provider-epr"}]
    assert [e["outcome"] for e in refused] == ["4"]  # an attempt on its data
    (to_axx,) = _events(client, third_ig_token, entity=written)  # as the recipient
    assert _clients(to_axx) == {"demo-trust-crisis"}
    assert _about(_report(client, third_ig_token), referral) != []


def test_whose_events_they_are_is_in_the_signed_bytes_and_nowhere_else(
    client: TestClient,
    database: Database,
    third_token: dict[str, str],
    trust_token: dict[str, str],
    third_ig_token: dict[str, str],
) -> None:
    referral = _third_referral(client, third_token, trust_token)
    _internal_referral(client)

    # The Trust's read of AXX's referral, as AXX's IG lead is served it (the bytes hashed):
    # the data entity names the referral's origin and parties, and no agent is added.
    reads = _events(client, third_ig_token, entity=referral, subtype="read")
    (read,) = [event for event in reads if _clients(event) == {"demo-trust-crisis"}]
    (data,) = [
        e for e in read["entity"] if e.get("what", {}).get("reference", "").startswith(referral)
    ]
    assert data["detail"] == [
        {"type": audit_codes.DETAIL_DATA_ORIGIN.uri, "valueString": THIRD_ODS},
        {"type": audit_codes.DETAIL_DATA_PARTY.uri, "valueString": THIRD_ODS},
        {"type": audit_codes.DETAIL_DATA_PARTY.uri, "valueString": "RZZ"},
    ]
    assert THIRD_ODS not in {
        a.get("who", {}).get("identifier", {}).get("value") for a in read["agent"]
    }

    # Every "org" row of every event logged so far is exactly what its bytes vouch for.
    with database.read() as connection:
        events = connection.execute(select(audit_events.c.seq, audit_events.c.content))
        contents = {seq: bytes(content) for seq, content in events}
        rows: dict[int, set[tuple[str, str]]] = {seq: set() for seq in contents}
        for seq, kind, value in connection.execute(
            select(audit_references.c.event_seq, audit_references.c.kind, audit_references.c.value)
        ):
            if kind == ORGANISATION:
                rows[seq].add((kind, value))
    assert {seq: organisation_references(content) for seq, content in contents.items()} == rows
    assert any(rows.values())


def test_paging_holds_exactly_the_events_in_view(
    client: TestClient,
    third_token: dict[str, str],
    trust_token: dict[str, str],
    third_ig_token: dict[str, str],
) -> None:
    _third_referral(client, third_token, trust_token)
    internal = _internal_referral(client)
    _third_referral(client, third_token, trust_token)
    _internal_referral(client)
    # Reads only: the IG lead's own searches of the log are logged as they page.
    in_view = _events(client, third_ig_token, patient=PATIENT_NHS_NUMBER, subtype="read")

    pages: list[list[str]] = []
    url: str | None = f"/fhir/AuditEvent?patient={PATIENT_NHS_NUMBER}&subtype=read&_count=1"
    while url is not None:
        bundle = client.get(url, headers=third_ig_token).json()
        pages.append([entry["resource"]["id"] for entry in bundle.get("entry", [])])
        after = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = after[0].removeprefix("http://testserver") if after else None

    assert len(in_view) == 2  # the Trust's reads of AXX's referrals, not AZZ's own reads
    assert all(len(page) == 1 for page in pages)  # no page thinned out after the query
    assert [event_id for page in pages for event_id in page] == [e["id"] for e in in_view]
    assert _about(in_view, internal) == []


def test_checkpoints_stay_open_to_every_authenticated_client(
    client: TestClient, third_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    _internal_referral(client)
    signed = client.post("/audit/checkpoints", headers=ig_token)
    assert signed.status_code == 200

    witnessed = client.get("/audit/checkpoints/latest", headers=third_token)

    assert witnessed.status_code == 200, witnessed.text
    assert witnessed.json()["tree_size"] >= signed.json()["tree_size"]


def test_every_organisation_can_see_who_holds_the_system_wide_view(
    client: TestClient, third_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    listed = client.get("/api/clients", headers=third_token)
    assert listed.status_code == 200, listed.text
    registrations = {entry["client_id"]: entry for entry in listed.json()["clients"]}

    assert set(registrations) == {"test-third-provider", "test-third-ig-lead", "demo-ig-lead"}
    assert registrations["demo-ig-lead"]["access_log"] == "system-wide"
    assert registrations["demo-ig-lead"]["organisation"] == "RZZ"
    assert registrations["test-third-ig-lead"]["access_log"] == "own-organisation"
    assert "access_log" not in registrations["test-third-provider"]
    assert all("jwks" not in entry and "keys" not in entry for entry in registrations.values())
    assert listed.json()["system_wide_ig_lead"] == {
        "client_id": "demo-ig-lead",
        "organisation": "RZZ",
    }
    everyone = client.get("/api/clients", headers=ig_token).json()["clients"]
    assert "demo-provider-epr" in {entry["client_id"] for entry in everyone}
