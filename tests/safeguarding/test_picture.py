"""Both sides see the same picture, on both databases through the real application: the
person's open safeguarding actions and restrictions in force appear in the escalation's
dataset answer (the JSON pull) and on its crisis summary page, above the fold, for the
provider and the Trust alike; what is completed is gone; and a third organisation's own
action about the same person shows to nobody else."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.handovers.test_deadline_watcher import escalation
from tests.handovers.test_routes import push
from tests.safeguarding.support import action_body, move, post, raise_action
from tests.safeguarding.test_restrictions import recorded


def pushed(client: TestClient) -> dict[str, Any]:
    created: dict[str, Any] = push(client, escalation(), "escalations").json()
    return created


def test_open_actions_and_restrictions_in_force_are_in_the_pull_and_on_the_page(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    action = raise_action(client)
    done = raise_action(client, description="Share the safety plan with the GP.")
    restriction = recorded(client)
    # The third organisation's own action about the same person, owned by itself.
    theirs = post(
        client,
        "actions",
        action_body(
            owner={"ods": "AXX", "team": "Third provider safeguarding lead"},
            requester={"ods": "AXX", "person": {"name": "Pat Third"}},
        ),
        **third_token,
    )
    assert theirs.status_code == 201, theirs.text
    assert move(client, done["id"], "accepted", **trust_token).status_code == 200
    assert move(client, done["id"], "in-progress", **trust_token).status_code == 200
    assert move(client, done["id"], "completed", **trust_token).status_code == 200
    created = pushed(client)

    for headers in ({}, trust_token):
        answer = client.get(f"/api/escalations/{created['id']}", headers=headers)
        assert answer.status_code == 200, answer.text
        picture = answer.json()["safeguarding"]
        (shown_action,) = picture["actions"]  # the completed one is gone
        assert shown_action["reference"] == f"Task/{action['id']}"
        assert shown_action["status"] == "requested"
        assert shown_action["overdue"] is False
        assert shown_action["what"].startswith("Convene or join a safeguarding strategy")
        (shown_restriction,) = picture["restrictions"]
        assert shown_restriction["reference"] == f"Flag/{restriction['id']}"
        assert shown_restriction["overdue_review"] is False

    communication = created["resources"]["Communication"].split("/")[1]
    page = client.get(
        f"/fhir/Communication/{communication}/$summary",
        headers={**trust_token, "Accept": "text/html"},
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert "Safeguarding: 1 restriction in force, 1 open safeguarding action" in html
    # Above the fold: before what is being asked and who to call back.
    assert html.index('id="safeguarding"') < html.index('class="decide"')
    summary = client.get(
        f"/fhir/Communication/{communication}/$summary", headers=trust_token
    ).json()
    assert [a["reference"] for a in summary["safeguarding"]["actions"]] == [f"Task/{action['id']}"]


def test_a_crisis_system_pulling_fhir_finds_the_same_records_by_the_person(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    """The searches docs/exchange.md gives a Trust that pulls FHIR."""
    action = raise_action(client)
    restriction = recorded(client)
    nhs = "https://fhir.nhs.uk/Id/nhs-number"
    people = f"{nhs}|9434765919,{nhs}|9000000009"
    tasks = client.get(
        "/fhir/Task",
        params={"patient:identifier": people, "status": "requested,accepted,in-progress"},
        headers=trust_token,
    )
    assert tasks.status_code == 200, tasks.text
    assert [e["resource"]["id"] for e in tasks.json()["entry"]] == [action["id"]]
    flags = client.get(
        "/fhir/Flag",
        params={
            "patient:identifier": people,
            "category": "https://fhir.mh-gateway.example.org/CodeSystem/flag-category|restriction",
            "status": "active",
        },
        headers=trust_token,
    )
    assert flags.status_code == 200, flags.text
    assert [e["resource"]["id"] for e in flags.json()["entry"]] == [restriction["id"]]
