"""Only the author changes a record, and every version is judged on its own facts.

A record belongs to the organisation whose client created it (its origin): another
party, even one the record is addressed to, cannot write a new version of it (403, nothing
changed, the refusal in the access log); it answers in a record of its own. The subject
of a record never changes. vread and _history decide each version on the parties and
sharing facts it had, so a later change cannot unlock an older version.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.access_log.reading import event_references
from tests.builders import (
    OTHER_NHS_NUMBER,
    PATIENT_NHS_NUMBER,
    flag,
    nhs_identifier,
    ods_reference,
    service_request,
)
from tests.fhir_judge import assert_valid_fhir
from tests.handovers.test_routes import example, push
from tests.sharing.test_enforcement import consent
from tests.tokens import TRUST, TRUST_SCOPES, access_token, bearer

FHIR = {"Content-Type": "application/fhir+json"}
JSON = {"Content-Type": "application/json"}
NOT_AUTHOR = "access:organisation-not-author"
NOT_PARTY = "access:organisation-not-party"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"


def _handover(client: TestClient) -> dict[str, Any]:
    """The provider AZZ's crisis handover to the Trust RZZ (very urgent, two risks)."""
    response = push(client, example("handover-crisis"))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _create(client: TestClient, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post(f"/fhir/{body['resourceType']}", json=body, headers={**FHIR, **headers})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _read(client: TestClient, reference: str, **headers: str) -> dict[str, Any]:
    response = client.get(f"/fhir/{reference}", headers=headers)
    assert response.status_code == 200, response.text
    content: dict[str, Any] = response.json()
    return content


def _put(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> Any:
    path = f"/fhir/{body['resourceType']}/{body['id']}"
    return client.put(path, content=json.dumps(body), headers={**FHIR, **headers})


def _issue(response: Any) -> dict[str, Any]:
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = outcome["issue"][0]
    return issue


def _refusals(client: TestClient, ig: dict[str, str], subtype: str) -> list[dict[str, Any]]:
    """The access log's refused events of this interaction, as that IG lead sees them."""
    response = client.get(
        "/fhir/AuditEvent", params={"subtype": subtype, "outcome": "4", "_count": "100"}, headers=ig
    )
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


def _names(event: dict[str, Any]) -> list[str]:
    return [str(entity["name"]) for entity in event.get("entity", []) if "name" in entity]


def _assert_refused_in_log(
    client: TestClient, ig: dict[str, str], subtype: str, reference: str, rule: str
) -> None:
    events = [
        event
        for event in _refusals(client, ig, subtype)
        if any(ref.startswith(reference) for ref in event_references(event))
    ]
    assert events, f"no refused {subtype} of {reference} in the access log"
    assert any(name.startswith(rule) for name in _names(events[0])), _names(events[0])


# --- another party's update --------------------------------------------------------------


def test_the_trust_cannot_change_the_providers_handover_request(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    created = _handover(client)
    reference = created["resources"]["ServiceRequest"]
    original = _read(client, reference)
    shown = client.get(f"/api/handovers/{created['id']}").json()
    seen = _read(client, reference, **trust_token)

    lowered = {**seen, "priority": "routine", "note": [{"text": "Not urgent after all."}]}
    refused = _put(client, lowered, trust_token)

    assert refused.status_code == 403, refused.text
    issue = _issue(refused)
    assert issue["code"] == "forbidden"
    assert "Only the organisation that created this record" in issue["diagnostics"]
    assert _read(client, reference) == original
    assert original["priority"] == "asap"
    assert client.get(f"/api/handovers/{created['id']}").json()["dataset"] == shown["dataset"]
    _assert_refused_in_log(client, ig_token, "update", reference, NOT_AUTHOR)


def test_the_trust_cannot_set_the_providers_risk_flag_inactive(
    client: TestClient, ig_token: dict[str, str]
) -> None:
    # The demo Trust's registration grants it Flag create and update (for Flags of its own).
    trust_token = bearer(access_token(client, TRUST, f"{TRUST_SCOPES} system/Flag.cu"))
    created = _handover(client)
    reference = created["resources"]["Flag"][0]
    original = _read(client, reference)
    risks = client.get(f"/api/handovers/{created['id']}").json()["dataset"]["key_risks"]
    seen = _read(client, reference, **trust_token)

    cleared = {**seen, "status": "inactive", "code": {"text": "No current risk"}}
    refused = _put(client, cleared, trust_token)

    assert refused.status_code == 403, refused.text
    assert _issue(refused)["code"] == "forbidden"
    assert _read(client, reference) == original
    assert original["status"] == "active"
    shown = client.get(f"/api/handovers/{created['id']}").json()["dataset"]["key_risks"]
    assert shown == risks
    assert shown[0]["level"] == "high"
    _assert_refused_in_log(client, ig_token, "update", reference, NOT_AUTHOR)


def test_the_trust_cannot_rewrite_the_providers_handover_communication(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    created = _handover(client)
    reference = created["resources"]["Communication"]
    original = _read(client, reference)
    shown = client.get(f"/api/handovers/{created['id']}").json()["dataset"]
    seen = _read(client, reference, **trust_token)

    rewritten = {**seen, "payload": [{"contentString": "Settled; no concerns."}]}
    refused = _put(client, rewritten, trust_token)

    assert refused.status_code == 403, refused.text
    assert _issue(refused)["code"] == "forbidden"
    assert _read(client, reference) == original
    assert client.get(f"/api/handovers/{created['id']}").json()["dataset"] == shown
    _assert_refused_in_log(client, ig_token, "update", reference, NOT_AUTHOR)


def test_a_third_organisation_cannot_change_a_record_it_is_not_party_to(
    client: TestClient, third_token: dict[str, str], third_ig_token: dict[str, str]
) -> None:
    created = _handover(client)
    reference = created["resources"]["ServiceRequest"]
    original = _read(client, reference)

    forged = {**original, "priority": "routine", "requester": ods_reference("AXX")}
    refused = _put(client, forged, third_token)

    # Not a party: answered as a missing record, so ids cannot be probed.
    assert refused.status_code == 404, refused.text
    assert _issue(refused)["code"] == "not-found"
    assert _read(client, reference) == original
    _assert_refused_in_log(client, third_ig_token, "update", reference, NOT_PARTY)


def test_a_third_organisation_cannot_change_what_the_trust_sent_it(
    client: TestClient,
    trust_token: dict[str, str],
    third_token: dict[str, str],
    third_ig_token: dict[str, str],
) -> None:
    # The Trust writes to AXX under their own agreement: AXX is a recipient, not its author.
    message = {
        "resourceType": "Communication",
        "status": "completed",
        "subject": {"identifier": nhs_identifier()},
        "sender": ods_reference("RZZ"),
        "recipient": [ods_reference("AXX")],
        "payload": [{"contentString": "Seen in crisis clinic; follow-up booked."}],
    }
    sent = _create(client, message, **trust_token)
    reference = f"Communication/{sent['id']}"
    assert _read(client, reference, **third_token) == sent

    rewritten = {**sent, "payload": [{"contentString": "Discharged."}]}
    refused = _put(client, rewritten, third_token)

    assert refused.status_code == 403, refused.text
    assert _issue(refused)["code"] == "forbidden"
    assert _read(client, reference, **trust_token) == sent
    _assert_refused_in_log(client, third_ig_token, "update", reference, NOT_AUTHOR)


# --- the subject of a record --------------------------------------------------------------


def test_the_author_cannot_change_whom_a_record_is_about(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    created = _create(client, service_request())
    reference = f"ServiceRequest/{created['id']}"

    moved = {**created, "subject": {"identifier": nhs_identifier(OTHER_NHS_NUMBER)}}
    refused = _put(client, moved, {})

    assert refused.status_code == 422, refused.text
    issue = _issue(refused)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["ServiceRequest.subject"]
    assert "entered-in-error" in issue["diagnostics"]
    assert OTHER_NHS_NUMBER not in refused.text
    assert _read(client, reference) == created
    # The way to correct it: the author enters it in error, and writes a new one.
    withdrawn = _put(client, {**created, "status": "entered-in-error"}, {})
    assert withdrawn.status_code == 200, withdrawn.text


# --- every version on its own facts --------------------------------------------------------


def test_a_version_the_trust_was_refused_stays_refused_after_later_changes(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    restricted = {"system": CONFIDENTIALITY, "code": "R"}
    first = _create(
        client,
        service_request(meta={"security": [restricted]}, note=[{"text": "Restricted detail."}]),
    )
    path = f"/fhir/ServiceRequest/{first['id']}"
    assert client.get(path, headers=trust_token).status_code == 200
    # Then the person tells the provider: share, except what is marked restricted (R).
    recorded = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    exception = {"type": "deny", "securityLabel": [restricted]}
    _create(
        client, consent(provision={"type": "permit", "provision": [exception]}, recorded=recorded)
    )
    assert client.get(path, headers=trust_token).status_code == 403

    # The author lifts the restriction (and the restricted note) in a later version.
    second = {key: value for key, value in first.items() if key not in ("meta", "note")}
    updated = _put(client, {**second, "status": "on-hold"}, {})
    assert updated.status_code == 200, updated.text
    assert client.get(path, headers=trust_token).status_code == 200

    old = client.get(f"{path}/_history/1", headers=trust_token)
    assert old.status_code == 403, old.text
    assert _issue(old)["code"] == "forbidden"
    assert "Restricted detail" not in old.text
    history = client.get(f"{path}/_history", headers=trust_token)
    assert history.status_code == 200, history.text
    assert [e["resource"]["meta"]["versionId"] for e in history.json()["entry"]] == ["2"]
    assert "Restricted detail" not in history.text
    _assert_refused_in_log(client, ig_token, "vread", f"ServiceRequest/{first['id']}", "consent")
    # The author still sees every version of its own record.
    own = client.get(f"{path}/_history").json()
    assert [e["resource"]["meta"]["versionId"] for e in own["entry"]] == ["2", "1"]


def test_a_version_the_trust_was_never_party_to_is_not_found(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    # A risk the provider kept to itself, later shared with the Trust.
    private = _create(client, {**flag(), "code": {"text": "Kept private at first."}})
    path = f"/fhir/Flag/{private['id']}"
    assert client.get(path, headers=trust_token).status_code == 404
    recipient = {
        "url": "https://fhir.mh-gateway.example.org/StructureDefinition/recipient",
        "valueReference": ods_reference("RZZ"),
    }
    shared = {**private, "code": flag()["code"], "extension": [recipient]}
    assert _put(client, shared, {}).status_code == 200
    assert client.get(path, headers=trust_token).status_code == 200

    old = client.get(f"{path}/_history/1", headers=trust_token)
    assert old.status_code == 404, old.text
    assert _issue(old)["code"] == "not-found"
    assert "Kept private" not in old.text
    history = client.get(f"{path}/_history", headers=trust_token).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2"]
    assert "Kept private" not in json.dumps(history)
    _assert_refused_in_log(client, ig_token, "vread", f"Flag/{private['id']}", NOT_PARTY)


# --- the gateway's own workflow ----------------------------------------------------------


def test_an_escalation_response_is_the_trusts_own_record_and_the_gateway_marks_it_answered(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = push(client, example("escalation-manager"), "escalations")
    assert created.status_code == 201, created.text
    escalation = created.json()
    summary_ref = escalation["resources"]["Communication"]
    summary_v1 = _read(client, summary_ref)

    answer = {"from": "Crisis duty manager", "summary": "Home visit at 16:00 today."}
    recorded = client.post(
        f"/api/escalations/{escalation['id']}/responses",
        content=json.dumps(answer),
        headers={**JSON, **trust_token},
    )

    assert recorded.status_code == 200, recorded.text
    # The Trust's answer is a Communication of its own, in response to the summary.
    (listed,) = recorded.json()["responses"]
    assert listed["from"] == "RZZ"
    response = _read(client, listed["communication"])
    assert response["sender"] == {**ods_reference("RZZ"), "display": answer["from"]}
    assert response["inResponseTo"] == [{"reference": summary_ref}]
    assert ods_reference("AZZ") in response["recipient"]
    assert response["subject"] == summary_v1["subject"]
    assert response["payload"][0]["contentString"] == answer["summary"]
    assert response["meta"]["versionId"] == "1"
    # The gateway marked the provider's escalation answered, and says why.
    summary = _read(client, summary_ref)
    assert summary["status"] == "completed"
    assert summary["meta"]["versionId"] == "2"
    assert summary["sender"] == summary_v1["sender"]
    found = client.get("/fhir/Provenance", params={"target": summary_ref}).json()
    (provenance,) = [
        entry["resource"]
        for entry in found.get("entry", [])
        if {"reference": f"{summary_ref}/_history/2"} in entry["resource"]["target"]
    ]
    assert_valid_fhir(provenance)
    assert provenance["activity"]["coding"][0]["system"] == DATA_OPERATION
    assert provenance["activity"]["coding"][0]["code"] == "UPDATE"
    assert {"reference": f"{listed['communication']}/_history/1"} in [
        entity["what"] for entity in provenance["entity"]
    ]
    served = client.get(f"/api/escalations/{escalation['id']}").json()
    assert served["dataset"]["escalation"]["response"]["summary"] == answer["summary"]
    assert served["dataset"]["escalation"]["response"]["from"] == answer["from"]
    assert [r["communication"] for r in served["responses"]] == [listed["communication"]]
    # Nobody else may write the same: the Trust's PUT of the summary is refused.
    refused = _put(client, {**summary, "status": "in-progress"}, trust_token)
    assert refused.status_code == 403


def test_nobody_but_the_subjects_author_writes_its_records(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    """The Trust answers the provider's referral in a Task of its own, never by editing."""
    created = _create(client, service_request())
    seen = _read(client, f"ServiceRequest/{created['id']}", **trust_token)
    assert _put(client, {**seen, "status": "on-hold"}, trust_token).status_code == 403
    task = {
        "resourceType": "Task",
        "status": "accepted",
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{created['id']}"},
        "owner": ods_reference("RZZ"),
    }
    accepted = _create(client, task, **trust_token)
    assert accepted["for"]["identifier"]["value"] == PATIENT_NHS_NUMBER
    # ... which only the Trust, its author, may change.
    assert _put(client, {**accepted, "status": "completed"}, {}).status_code == 403
    assert _put(client, {**accepted, "status": "completed"}, trust_token).status_code == 200
