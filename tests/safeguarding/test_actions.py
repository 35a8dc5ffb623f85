"""Safeguarding actions on both databases through the real application: raised by the
provider, owned by the Trust; the owner rule; partner contact; the tracker's queries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.access_log.reading import event_references
from tests.safeguarding.support import action_body, contact, move, post, raise_action

PROVENANCE_AGENT_ROLE = "author"


def test_an_action_is_raised_accepted_contacted_started_and_completed(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    raised = raise_action(client)
    assert raised["status"] == "requested"
    assert raised["overdue"] is False
    assert raised["owner"] == {
        "ods": "RZZ",
        "team": "Trust safeguarding team (named nurse for safeguarding adults)",
    }
    task = client.get(f"/fhir/{raised['task']}").json()
    assert task["status"] == "requested"
    assert task["meta"]["tag"][0]["code"] == "safeguarding"
    # The owner reads it too.
    assert client.get(f"/fhir/{raised['task']}", headers=trust_token).status_code == 200

    accepted = move(client, raised["id"], "accepted", **trust_token)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    recorded = contact(client, raised["id"], **trust_token)
    assert recorded.status_code == 201, recorded.text
    communication = client.get(f"/fhir/{recorded.json()['communication']}").json()
    assert communication["about"] == [{"reference": raised["task"]}]
    assert communication["sender"]["identifier"]["value"] == "RZZ"
    assert move(client, raised["id"], "in-progress", **trust_token).status_code == 200
    done = move(client, raised["id"], "completed", **trust_token)
    assert done.status_code == 200, done.text
    assert done.json()["outcome"].startswith("Strategy discussion held")
    task = client.get(f"/fhir/{raised['task']}").json()
    assert task["status"] == "completed"
    assert task["meta"]["versionId"] == "4"
    assert [o["type"]["coding"][0]["code"] for o in task["output"]] == ["outcome", "evidence"]
    # Each move is the gateway's, with a Provenance naming the organisation that asked.
    provenances = client.get(
        "/fhir/Provenance", params={"target": raised["task"]}, headers=trust_token
    ).json()
    by_version = {
        e["resource"]["target"][0]["reference"].rsplit("/", 1)[1]: e["resource"]
        for e in provenances["entry"]
    }
    assert sorted(by_version) == ["2", "3", "4"]
    agent = by_version["4"]["agent"][-1]
    assert agent["onBehalfOf"]["identifier"]["value"] == "RZZ"
    assert agent["who"]["display"] == "Alex Rowe"
    assert by_version["4"]["entity"][0]["what"]["reference"] == f"{raised['task']}/_history/3"
    assert by_version["4"]["activity"]["coding"][0]["code"] == "UPDATE"
    # Nothing moves after completion.
    assert move(client, raised["id"], "cancelled").status_code == 409


def test_the_owner_rule(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    raised = raise_action(client)
    action = raised["id"]
    # The requester cannot accept or complete what it asked of another.
    assert move(client, action, "accepted").status_code == 403
    # Out of order: the owner starts only what it has accepted.
    assert move(client, action, "in-progress", **trust_token).status_code == 409
    assert move(client, action, "accepted", **trust_token).status_code == 200
    assert move(client, action, "completed", **trust_token).status_code == 409
    # The owner cannot cancel what it did not raise.
    refused = move(client, action, "cancelled", **trust_token)
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"
    # The third organisation can neither see, move nor record contact on it.
    assert client.get(f"/fhir/{raised['task']}", headers=third_token).status_code == 404
    assert move(client, action, "in-progress", **third_token).status_code == 404
    assert move(client, action, "cancelled", **third_token).status_code == 404
    assert contact(client, action, **third_token).status_code == 404
    listed = client.get("/api/safeguarding/actions", headers=third_token).json()
    assert listed["actions"] == []
    # The requester cancels what it raised.
    cancelled = move(client, action, "cancelled")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["reason"].startswith("Raised in error")
    assert move(client, action, "in-progress", **trust_token).status_code == 409


def test_no_client_writes_an_action_through_fhir_task(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    raised = raise_action(client)
    task = client.get(f"/fhir/{raised['task']}").json()
    fresh = {k: v for k, v in task.items() if k not in ("id", "meta")}
    created = client.post(
        "/fhir/Task", content=json.dumps(fresh), headers={"Content-Type": "application/fhir+json"}
    )
    assert created.status_code == 422
    assert "/api/safeguarding/actions" in created.text
    for headers in ({}, trust_token):
        done = {**task, "status": "completed"}
        answer = client.put(
            f"/fhir/{raised['task']}",
            content=json.dumps(done),
            headers={"Content-Type": "application/fhir+json", **headers},
        )
        assert answer.status_code == 422, answer.text
        assert "/status" in answer.text
    # Nor made into another kind of Task by an update that drops its code.
    plain = {k: v for k, v in task.items() if k != "code"}
    answer = client.put(
        f"/fhir/{raised['task']}",
        content=json.dumps(plain),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert answer.status_code == 422
    assert client.get(f"/fhir/{raised['task']}").json()["meta"]["versionId"] == "1"


def _count(client: TestClient) -> int:
    listed: dict[str, Any] = client.get("/api/safeguarding/actions").json()
    return len(listed["actions"])


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, third_token: dict[str, str]
) -> None:
    without_owner = action_body()
    del without_owner["owner"]
    without_number = action_body(patient={})
    cases: list[tuple[dict[str, Any], str]] = [
        (without_owner, "owner"),
        (without_number, "patient.nhs_number"),
        (action_body(patient={"nhs_number": "9434765918"}), "patient.nhs_number"),
        (action_body(owner={"ods": "ZZZ99", "team": "Nobody"}), "owner.ods"),
        (action_body(priority="soon"), "priority"),
        (action_body(deadline="tomorrow"), "deadline"),
        (action_body(action="do-something"), "action"),
    ]
    for body, field in cases:
        answer = post(client, "actions", body)
        assert answer.status_code == 422, (field, answer.text)
        outcome = answer.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert field in [e for issue in outcome["issue"] for e in issue.get("expression", [])]
        assert "9434765918" not in answer.text
    # Raising as another organisation is refused outright.
    assert post(client, "actions", action_body(), **third_token).status_code == 403
    assert _count(client) == 0


def test_a_past_deadline_is_accepted_and_at_once_overdue(client: TestClient) -> None:
    raised = raise_action(client, due_in=-timedelta(hours=1))
    assert raised["overdue"] is True
    overdue = client.get("/api/safeguarding/actions", params={"state": "overdue"}).json()
    assert [a["id"] for a in overdue["actions"]] == [raised["id"]]


def test_queries_show_only_the_callers_actions_by_owner_person_and_state(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    first = raise_action(client)
    second = raise_action(client, patient={"nhs_number": "9000000009"})
    assert move(client, second["id"], "accepted", **trust_token).status_code == 200
    everything = client.get("/api/safeguarding/actions", headers=trust_token).json()
    assert {a["id"] for a in everything["actions"]} == {first["id"], second["id"]}
    by_person = client.get(
        "/api/safeguarding/actions", params={"person": "9000000009", "owner": "RZZ"}
    ).json()
    assert [a["id"] for a in by_person["actions"]] == [second["id"]]
    assert client.get("/api/safeguarding/actions", params={"state": "completed"}).json() == {
        "actions": [],
        "truncated": False,
    }
    assert client.get("/api/safeguarding/actions", params={"person": "123"}).status_code == 422


def test_every_read_and_write_of_an_action_is_in_the_access_log(
    client: TestClient, trust_token: dict[str, str], ig_token: dict[str, str]
) -> None:
    raised = raise_action(client)
    assert move(client, raised["id"], "accepted", **trust_token).status_code == 200
    recorded = contact(client, raised["id"], **trust_token).json()
    assert client.get("/api/safeguarding/actions", headers=trust_token).status_code == 200
    events = client.get(
        "/fhir/AuditEvent",
        params={"patient": "https://fhir.nhs.uk/Id/nhs-number|9434765919", "_count": "100"},
        headers=ig_token,
    )
    assert events.status_code == 200, events.text
    named = {
        reference
        for entry in events.json().get("entry", [])
        for reference in event_references(entry["resource"])
    }
    task = raised["task"]
    assert {f"{task}/_history/1", f"{task}/_history/2"} <= named
    assert f"{recorded['communication']}/_history/1" in named
