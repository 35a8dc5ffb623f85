"""Answers to a referral, end to end through the real API on both databases: the Trust
accepts or declines a handover with a Task (declining with a configured reason), and
responds to an escalation with a Communication that is linked to it and recorded on it;
the referrer sees both on the handover and by FHIR search. Bad answers are refused with
an OperationOutcome and nothing is stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.platform.database import Database
from gateway.platform.schema import audit_events, resources
from tests.builders import ODS, PATIENT_NHS_NUMBER, nhs_identifier, ods_reference, service_request
from tests.handovers.test_routes import example, push
from tests.sharing.test_enforcement import consent

FHIR = {"Content-Type": "application/fhir+json"}
DECLINE = "https://fhir.mh-gateway.example.org/CodeSystem/decline-reason"


def handover(client: TestClient, kind: str = "handover") -> dict[str, Any]:
    """A handover (or escalation) the provider AZZ pushes to the Trust RZZ."""
    name = "handover-crisis" if kind == "handover" else "escalation-manager"
    response = push(client, example(name), f"{kind}s")
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def task(request_id: str, status: str = "accepted", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": status,
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{request_id}"},
        "owner": ods_reference("RZZ"),
        **extra,
    }


def reason(code: str) -> dict[str, Any]:
    return {"coding": [{"system": DECLINE, "code": code}]}


def response_to(communication_id: str, text: str = "Home visit at 16:00 today.") -> dict[str, Any]:
    sent = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    return {
        "resourceType": "Communication",
        "status": "completed",
        "inResponseTo": [{"reference": f"Communication/{communication_id}"}],
        "sender": ods_reference("RZZ"),
        "sent": sent,
        "payload": [{"contentString": text}],
    }


def stored(database: Database, resource_type: str) -> int:
    with database.read() as connection:
        return int(
            connection.execute(
                select(func.count())
                .select_from(resources)
                .where(resources.c.resource_type == resource_type)
            ).scalar_one()
        )


def post(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(f"/fhir/{body['resourceType']}", json=body, headers={**FHIR, **headers})


def first_issue(response: Any) -> dict[str, Any]:
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


# --- Task: accept and decline --------------------------------------------------------------


def test_the_trust_accepts_and_the_referrer_sees_the_decision(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = handover(client)
    accepted = post(client, task(created["id"]), trust_token)
    assert accepted.status_code == 201, accepted.text
    stored_task = accepted.json()
    # The gateway links it: basedOn the same request, requested by the referrer, for the
    # referral's person.
    assert stored_task["basedOn"] == [{"reference": f"ServiceRequest/{created['id']}"}]
    assert stored_task["requester"]["identifier"] == {"system": ODS, "value": "AZZ"}
    assert stored_task["for"]["identifier"]["value"] == PATIENT_NHS_NUMBER

    # The referrer reads it, finds it by focus, and sees it on the handover.
    assert client.get(f"/fhir/Task/{stored_task['id']}").status_code == 200
    found = client.get("/fhir/Task", params={"focus": f"ServiceRequest/{created['id']}"})
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [stored_task["id"]]
    served = client.get(f"/api/handovers/{created['id']}").json()
    assert served["decisions"] == [
        {
            "task": f"Task/{stored_task['id']}",
            "status": "accepted",
            "decision": "accepted",
            "by": "RZZ",
            "at": stored_task["meta"]["lastUpdated"],
        }
    ]
    assert served["responses"] == []


def test_the_trust_declines_with_a_configured_reason(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = handover(client)
    declined = post(
        client, task(created["id"], "rejected", statusReason=reason("capacity")), trust_token
    )
    assert declined.status_code == 201, declined.text
    coding = declined.json()["statusReason"]["coding"][0]
    assert coding["display"] == "The service cannot take this on in the time needed"

    (decision,) = client.get(f"/api/handovers/{created['id']}").json()["decisions"]
    assert decision["decision"] == "declined"
    assert decision["status"] == "rejected"
    assert decision["reason"] == {
        "system": DECLINE,
        "code": "capacity",
        "display": "The service cannot take this on in the time needed",
    }


def test_an_unknown_decline_reason_is_refused_naming_the_allowed_codes(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client)
    refused = post(
        client, task(created["id"], "rejected", statusReason=reason("too-busy-xyz")), trust_token
    )
    assert refused.status_code == 422, refused.text
    issue = first_issue(refused)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Task.statusReason"]
    assert "not-eligible" in issue["diagnostics"]
    assert "capacity" in issue["diagnostics"]
    assert "too-busy-xyz" not in refused.text
    assert stored(database, "Task") == 0


def test_a_decline_without_a_reason_is_refused(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client)
    refused = post(client, task(created["id"], "rejected"), trust_token)
    assert refused.status_code == 422, refused.text
    assert first_issue(refused)["expression"] == ["Task.statusReason"]
    assert stored(database, "Task") == 0


def test_a_reason_in_another_system_or_on_an_acceptance_is_refused(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client)
    snomed = {"coding": [{"system": "http://snomed.info/sct", "code": "183932001"}]}
    elsewhere = post(client, task(created["id"], "rejected", statusReason=snomed), trust_token)
    assert elsewhere.status_code == 422, elsewhere.text
    on_accept = post(client, task(created["id"], statusReason=reason("capacity")), trust_token)
    assert on_accept.status_code == 422, on_accept.text
    assert first_issue(on_accept)["expression"] == ["Task.statusReason"]
    assert stored(database, "Task") == 0


def test_only_the_performer_may_answer_and_neither_side_can_forge_the_other(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client)
    # The referrer cannot accept its own referral, as itself or as the Trust.
    as_itself = post(client, task(created["id"], owner=ods_reference("AZZ")), {})
    assert as_itself.status_code == 403, as_itself.text
    as_trust = post(client, task(created["id"]), {})
    assert as_trust.status_code == 403, as_trust.text
    # The Trust cannot name another requester than the referral's.
    forged = post(client, task(created["id"], requester=ods_reference("R1A")), trust_token)
    assert forged.status_code == 422, forged.text
    assert first_issue(forged)["expression"] == ["Task.requester"]
    assert stored(database, "Task") == 0

    # The owner updates its answer; the referrer, a party, cannot.
    accepted = post(client, task(created["id"]), trust_token).json()
    started = {**accepted, "status": "in-progress"}
    by_referrer = client.put(f"/fhir/Task/{accepted['id']}", json=started, headers=FHIR)
    assert by_referrer.status_code == 403, by_referrer.text
    by_owner = client.put(
        f"/fhir/Task/{accepted['id']}", json=started, headers={**FHIR, **trust_token}
    )
    assert by_owner.status_code == 200, by_owner.text
    assert by_owner.json()["meta"]["versionId"] == "2"


def test_one_task_per_request_and_owner_a_second_create_conflicts(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client)
    first = post(client, task(created["id"]), trust_token)
    assert first.status_code == 201
    second = post(
        client, task(created["id"], "rejected", statusReason=reason("other")), trust_token
    )
    assert second.status_code == 409, second.text
    assert first_issue(second)["code"] == "conflict"
    assert f"Task/{first.json()['id']}" in first_issue(second)["diagnostics"]
    assert stored(database, "Task") == 1


def test_a_task_on_a_request_the_trust_cannot_see_is_not_found(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    # A referral to another Trust: RZZ is no party to it.
    elsewhere = service_request(performer=[ods_reference("R1A")])
    request = post(client, elsewhere, {})
    assert request.status_code == 201, request.text
    hidden = post(client, task(request.json()["id"]), trust_token)
    assert hidden.status_code == 404, hidden.text
    missing = post(client, task("no-such-request"), trust_token)
    assert missing.status_code == 404
    assert hidden.json()["issue"][0]["diagnostics"] == missing.json()["issue"][0]["diagnostics"]
    assert stored(database, "Task") == 0


def test_a_task_must_name_the_request_it_answers(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client)
    body = task(created["id"])
    del body["focus"]
    refused = post(client, body, trust_token)
    assert refused.status_code == 422, refused.text
    assert first_issue(refused)["expression"] == ["Task.focus"]
    other = post(
        client,
        task(created["id"], basedOn=[{"reference": "ServiceRequest/another"}]),
        trust_token,
    )
    assert other.status_code == 422
    assert first_issue(other)["expression"] == ["Task.basedOn"]
    assert stored(database, "Task") == 0


# --- Communication responding to an escalation ------------------------------------------


def test_a_response_is_linked_and_recorded_on_the_escalation(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = handover(client, "escalation")
    summary_id = created["resources"]["Communication"].split("/")[1]
    answered = post(client, response_to(summary_id), trust_token)
    assert answered.status_code == 201, answered.text
    response = answered.json()
    assert response["basedOn"] == [{"reference": f"ServiceRequest/{created['id']}"}]
    assert response["subject"] == client.get(f"/fhir/Communication/{summary_id}").json()["subject"]
    assert ods_reference("AZZ") in response["recipient"]

    # The escalation is answered: completed, with the response in its dataset, written
    # by the gateway (not the Trust) with a Provenance naming the response as its cause.
    summary = client.get(f"/fhir/Communication/{summary_id}").json()
    assert summary["status"] == "completed"
    assert summary["meta"]["versionId"] == "2"
    assert summary["sender"] == ods_reference("AZZ")
    provenances = client.get(
        "/fhir/Provenance", params={"target": f"Communication/{summary_id}"}
    ).json()["entry"]
    causes = [
        entity["what"]["reference"]
        for entry in provenances
        for entity in entry["resource"].get("entity", [])
        if "reference" in entity["what"]
    ]
    assert causes == [f"Communication/{response['id']}/_history/1"]
    served = client.get(f"/api/escalations/{created['id']}").json()
    recorded = served["dataset"]["escalation"]["response"]
    assert recorded["summary"] == "Home visit at 16:00 today."
    assert "RZZ" in recorded["from"]
    assert recorded["received_at"].startswith(response["sent"][:16])
    assert served["responses"] == [
        {
            "communication": f"Communication/{response['id']}",
            "status": "completed",
            "from": "RZZ",
            "sent": response["sent"],
            "received_at": response["meta"]["lastUpdated"],
        }
    ]
    found = client.get(
        "/fhir/Communication", params={"in-response-to": f"Communication/{summary_id}"}
    )
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [response["id"]]


def test_a_response_to_a_handover_is_linked_without_changing_it(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = handover(client)
    summary_id = created["resources"]["Communication"].split("/")[1]
    answered = post(client, response_to(summary_id), trust_token)
    assert answered.status_code == 201, answered.text
    assert client.get(f"/fhir/Communication/{summary_id}").json()["meta"]["versionId"] == "1"
    (shown,) = client.get(f"/api/handovers/{created['id']}").json()["responses"]
    assert shown["communication"] == f"Communication/{answered.json()['id']}"


def test_a_response_to_what_the_caller_cannot_see_is_not_found(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    elsewhere = {
        "resourceType": "Communication",
        "status": "in-progress",
        "subject": {"identifier": nhs_identifier()},
        "sender": ods_reference("AZZ"),
        "recipient": [ods_reference("R1A")],
    }
    hidden = post(client, elsewhere, {})
    assert hidden.status_code == 201, hidden.text
    before = stored(database, "Communication")
    refused = post(client, response_to(hidden.json()["id"]), trust_token)
    assert refused.status_code == 404, refused.text
    assert stored(database, "Communication") == before


def test_only_a_recipient_may_respond_and_the_link_must_agree(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client, "escalation")
    summary_id = created["resources"]["Communication"].split("/")[1]
    before = stored(database, "Communication")
    # The provider sent the escalation: it is not a recipient of it.
    own = response_to(summary_id)
    own["sender"] = ods_reference("AZZ")
    assert post(client, own, {}).status_code == 403
    # A response naming another request, or another person, is refused.
    other_request = {**response_to(summary_id), "basedOn": [{"reference": "ServiceRequest/x"}]}
    refused = post(client, other_request, trust_token)
    assert refused.status_code == 422, refused.text
    assert first_issue(refused)["expression"] == ["Communication.basedOn"]
    other_person = {
        **response_to(summary_id),
        "subject": {"identifier": nhs_identifier("9000000009")},
    }
    refused = post(client, other_person, trust_token)
    assert refused.status_code == 422, refused.text
    assert "9000000009" not in refused.text
    # A sent time in the future would fake the time to response.
    future = response_to(summary_id)
    future["sent"] = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    refused = post(client, future, trust_token)
    assert refused.status_code == 422, refused.text
    assert first_issue(refused)["expression"] == ["Communication.sent"]
    assert stored(database, "Communication") == before
    summary = client.get(f"/fhir/Communication/{summary_id}").json()
    assert summary["status"] == "in-progress"


# --- consent, agreements and the access log ------------------------------------------


def test_answers_are_consent_checked_and_audited_like_any_write(
    client: TestClient, trust_token: dict[str, str], database: Database
) -> None:
    created = handover(client)
    accepted = post(client, task(created["id"]), trust_token)
    assert accepted.status_code == 201
    with database.read() as connection:
        events = connection.execute(
            select(audit_events.c.content).where(audit_events.c.ods_code == "RZZ")
        ).scalars()
        contents = [json.loads(content) for content in events]
    created_task = f"Task/{accepted.json()['id']}"
    assert any(
        any(created_task in str(entity.get("what", {})) for entity in event.get("entity", []))
        and event["action"] == "C"
        for event in contents
    )

    # The person dissents from sharing: the Trust can no longer answer through the gateway.
    other = handover_for_dissent(client)
    assert post(client, consent(), {}).status_code == 201
    refused = post(client, task(other), trust_token)
    assert refused.status_code == 403, refused.text
    assert "consent:dissent" in first_issue(refused)["diagnostics"]
    assert stored(database, "Task") == 1


def handover_for_dissent(client: TestClient) -> str:
    body = example("handover-crisis")
    body["external_id"] += "-dissent"
    response = push(client, body)
    assert response.status_code == 201, response.text
    request_id: str = response.json()["id"]
    return request_id
