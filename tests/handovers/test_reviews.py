"""Repeat escalations and manager reviews, on both databases through the real
application: the third escalation about one person within a week (the demo's crisis
rule) is marked a repeat and opens one review for the sender; more repeats while it is
open do not open another; closing it records the finding; nobody else sees or closes it."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.handovers.test_deadline_watcher import escalation
from tests.handovers.test_routes import push

REPEAT = "https://fhir.mh-gateway.example.org/CodeSystem/escalation-flag"


def escalate(client: TestClient, n: int, nhs_number: str = "9434765919") -> dict[str, Any]:
    body = escalation(external_id=f"EPR-REPEAT-{nhs_number}-{n}")
    body["patient"]["nhs_number"] = nhs_number
    answer = push(client, body, "escalations")
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def close(client: TestClient, review: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/api/reviews/{review}/close",
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **headers},
    )


FINDING = {
    "finding": "interface-related",
    "detail": "Crisis line did not answer the front-line step twice.",
    "plan_change": "Escalate straight to the duty manager for this person until reviewed.",
}


def test_the_third_escalation_in_a_week_is_a_repeat_and_opens_one_review(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    first, second = escalate(client, 1), escalate(client, 2)
    assert "repeat" not in first
    assert "repeat" not in second
    third = escalate(client, 3)
    assert third["repeat"]["escalations"] == 3
    assert third["repeat"]["within_days"] == 7
    request = client.get(f"/fhir/ServiceRequest/{third['id']}").json()
    assert any(tag["system"] == REPEAT for tag in request["meta"]["tag"])
    fourth = escalate(client, 4)
    assert fourth["repeat"]["review"] == third["repeat"]["review"]  # still one review
    # Another person's escalations are counted apart.
    assert "repeat" not in escalate(client, 1, nhs_number="9000000009")

    (review,) = client.get("/api/reviews", params={"state": "open"}).json()["reviews"]
    assert review["id"] == third["repeat"]["review"]
    assert review["escalation"] == third["id"]
    # The receiver and a third organisation have no review to see or close.
    assert client.get("/api/reviews", headers=trust_token).json()["reviews"] == []
    assert client.get("/api/reviews", headers=third_token).json()["reviews"] == []
    assert close(client, review["id"], FINDING, **trust_token).status_code == 404

    closed = close(client, review["id"], FINDING)
    assert closed.status_code == 200, closed.text
    assert closed.json()["finding"] == "interface-related"
    assert client.get("/api/reviews", params={"state": "open"}).json()["reviews"] == []
    assert close(client, review["id"], FINDING).status_code == 404  # once only
    # The next repeat after closing opens a new review.
    assert escalate(client, 5)["repeat"]["review"] != review["id"]


def test_a_bad_closing_is_refused_naming_the_field_and_changes_nothing(
    client: TestClient,
) -> None:
    for n in (1, 2, 3):
        created = escalate(client, n)
    review = created["repeat"]["review"]
    for bad, field in (
        ({**FINDING, "finding": "unsure"}, "finding"),
        ({"finding": "neither", "detail": "x"}, "plan_change"),
        ({**FINDING, "detail": ""}, "detail"),
        ({**FINDING, "extra": "9434765919"}, "extra"),
    ):
        answer = close(client, review, bad)
        assert answer.status_code == 400, answer.text
        issue = answer.json()["issue"][0]
        assert issue["expression"] == [field]
        assert "9434765919" not in answer.text
    (still,) = client.get("/api/reviews", params={"state": "open"}).json()["reviews"]
    assert still["id"] == review
