"""The deadline watcher on both databases, in the real application: a step nobody answers
is recorded as an interface delay and stepped up to the next level (delivered and
visible like any escalation, the sender told); a response stops the clock; at the top of
the ladder sender and receiver are told it is exhausted; each deadline is acted on once;
and a third organisation sees none of it. Time is moved by the watcher's clock, not
waited for (the real-time run is tests/handovers/test_ladder_end_to_end.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.deadline_sources import deadline_watcher
from gateway.handovers.ladder_metrics import LadderCollector
from gateway.platform.deadlines import DeadlineWatcher, WatcherSettings
from gateway.platform.schema import escalation_steps, interface_delays
from tests.handovers.test_routes import example, push

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
DEADLINE = "https://fhir.mh-gateway.example.org/StructureDefinition/response-deadline"
NOTICE = "https://fhir.mh-gateway.example.org/CodeSystem/communication-category|ladder-notice"


def escalation(level: str = "front-line", **changes: Any) -> dict[str, Any]:
    body = example("escalation-manager", respond_in=timedelta(hours=2))
    body["escalation"]["level"] = level
    body.update(changes)
    return body


def watcher(client: TestClient, after: timedelta) -> DeadlineWatcher:
    """The app's own watcher wiring, with its clock `after` from now."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    moved = datetime.now(UTC) + after
    return deadline_watcher(runtime.database, lambda: runtime.config, clock=lambda: moved)


def steps(client: TestClient) -> list[dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.read() as connection:
        rows = connection.execute(select(escalation_steps).order_by(escalation_steps.c.step))
        return [dict(row._mapping) for row in rows]


def delays(client: TestClient) -> list[dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.read() as connection:
        return [dict(row._mapping) for row in connection.execute(select(interface_delays))]


def test_each_step_gets_its_deadline_on_its_communication(client: TestClient) -> None:
    received = datetime.now(UTC)
    created = push(client, escalation(), "escalations").json()
    communication = client.get(f"/fhir/{created['resources']['Communication']}").json()
    deadline = next(e["valueDateTime"] for e in communication["extension"] if e["url"] == DEADLINE)
    # Emergency, front-line on the demo ladder: 15 minutes, earlier than the respond-by.
    due = datetime.fromisoformat(deadline)
    assert timedelta(minutes=14) < due - received < timedelta(minutes=16)
    (step,) = steps(client)
    assert step["state"] == "open"
    assert step["level"] == "front-line"


def test_a_step_nobody_answers_steps_up_once_and_the_sender_is_told(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    created = push(client, escalation(), "escalations").json()
    early = watcher(client, timedelta(minutes=10)).run_once()
    assert early == []  # not yet due

    acted = watcher(client, timedelta(minutes=16)).run_once()
    assert [done.action for done in acted] == ["step-up"]
    assert watcher(client, timedelta(minutes=17)).run_once() == []  # once only

    first, second = steps(client)
    assert first["state"] == "missed"
    assert second["level"] == "manager"
    assert second["escalation_id"] == created["id"]
    assert second["step"] == 2
    assert second["state"] == "open"
    (delay,) = delays(client)
    assert delay["level"] == "front-line"
    assert delay["receiver_ods"] == "RZZ"
    assert delay["action"] == "step-up"
    assert delay["pathway"] == "crisis"
    assert delay["locality"] == "north"

    # The step-up is an escalation like any other: the Trust pulls it, at manager level.
    stepped = client.get(f"/api/escalations/{second['service_request_id']}", headers=trust_token)
    assert stepped.status_code == 200, stepped.text
    step_up = stepped.json()["dataset"]["escalation"]
    assert step_up["level"] == "manager"
    assert step_up["escalated_to"]["role"] == "Crisis team duty manager"
    assert "No response to the front-line escalation by" in step_up["next_action"]
    assert step_up["information_shared"] == escalation()["escalation"]["information_shared"]
    # The sender is told, in a notice it can find by search.
    notices = client.get(
        "/fhir/Communication", params={"recipient:identifier": f"{ODS}|AZZ", "category": NOTICE}
    ).json()
    (notice,) = [entry["resource"] for entry in notices["entry"]]
    text = notice["payload"][0]["contentString"]
    assert "Crisis team duty manager, 01632 960101" in text
    # Nobody without a part in it sees any of it.
    for reference in (
        f"ServiceRequest/{second['service_request_id']}",
        f"Communication/{second['communication_id']}",
        f"Communication/{notice['id']}",
    ):
        assert client.get(f"/fhir/{reference}", headers=third_token).status_code == 404


def test_a_response_stops_the_clock(client: TestClient, trust_token: dict[str, str]) -> None:
    created = push(client, escalation(), "escalations").json()
    answer = {"from": "Crisis duty line", "summary": "Visiting at 16:00."}
    response = client.post(
        f"/api/escalations/{created['id']}/responses",
        content=json.dumps(answer),
        headers={**trust_token, "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 201), response.text
    assert watcher(client, timedelta(hours=3)).run_once() == []
    (step,) = steps(client)
    assert step["state"] == "answered"
    assert step["answered_by"] == "RZZ"
    (shown,) = client.get(f"/api/escalations/{created['id']}/timeline").json()["steps"]
    assert shown["answered_by"] == "RZZ"
    assert 0 <= shown["answered_after_seconds"] < 60
    assert delays(client) == []
    # The deadline is kept on the answered version of the step.
    communication = client.get(f"/fhir/{created['resources']['Communication']}").json()
    assert communication["status"] == "completed"
    assert any(e["url"] == DEADLINE for e in communication["extension"])


def test_a_late_response_records_how_late_it_came(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = push(client, escalation(level="senior"), "escalations").json()
    watcher(client, timedelta(minutes=16)).run_once()
    answer = {"from": "On-call manager", "summary": "Called back."}
    client.post(
        f"/api/escalations/{created['id']}/responses",
        content=json.dumps(answer),
        headers={**trust_token, "Content-Type": "application/json"},
    )
    (delay,) = delays(client)
    assert delay["responded_at"] is not None


def test_the_top_of_the_ladder_tells_sender_and_receiver_it_is_exhausted(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    push(client, escalation(level="senior"), "escalations")
    acted = watcher(client, timedelta(minutes=16)).run_once()
    assert [done.action for done in acted] == ["notify"]
    assert len(steps(client)) == 1  # nowhere left to step up to
    notices = client.get(
        "/fhir/Communication",
        params={"recipient:identifier": f"{ODS}|RZZ", "category": NOTICE},
        headers=trust_token,
    ).json()
    (notice,) = [entry["resource"] for entry in notices["entry"]]
    assert "Call Trust on-call manager on 01632 960102 now" in notice["payload"][0]["contentString"]
    assert {r["identifier"]["value"] for r in notice["recipient"]} == {"AZZ", "RZZ"}


def test_an_escalation_without_a_ladder_is_held_to_its_respond_by(client: TestClient) -> None:
    # The demo has no ladder for a receiver other than RZZ; R1A is a test Trust.
    body = escalation(receiver={"ods": "R1A", "service": "crisis"})
    body["escalation"]["escalated_to"]["ods"] = "R1A"
    created = push(client, body, "escalations")
    assert created.status_code == 201, created.text
    (step,) = steps(client)
    respond_by = datetime.fromisoformat(body["time_sensitivity"]["respond_by"])
    assert step["deadline"] == respond_by
    acted = watcher(client, timedelta(hours=3)).run_once()
    assert [done.action for done in acted] == ["notify"]


def test_the_timeline_shows_every_step_and_the_delays_are_readable_by_their_parties(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    created = push(client, escalation(), "escalations").json()
    watcher(client, timedelta(minutes=16)).run_once()

    answer = client.get(f"/api/escalations/{created['id']}/timeline")
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["steps"]
    assert (first["step"], first["level"], first["missed"]) == (1, "front-line", True)
    assert first["missed_by"]["gateway_action"] == "step-up"
    assert first["escalated_by"]["name"] == "Priya Shah"
    assert first["early_warning_indicators"][0]["indicator"] == "missed visit"
    assert (second["step"], second["level"], second["missed"]) == (2, "manager", False)
    assert second["respond_by"] > first["respond_by"]
    # The same timeline from the later step's id, and for the receiver.
    again = client.get(f"/api/escalations/{second['id']}/timeline", headers=trust_token)
    assert [step["step"] for step in again.json()["steps"]] == [1, 2]
    # Not for an organisation with no part in it.
    hidden = client.get(f"/api/escalations/{created['id']}/timeline", headers=third_token)
    assert hidden.status_code == 404

    for headers in ({}, trust_token):
        found = client.get("/api/interface-delays", headers=headers).json()["delays"]
        assert [(d["level"], d["receiver"], d["gateway_action"]) for d in found] == [
            ("front-line", "RZZ", "step-up")
        ]
        assert "patient" not in json.dumps(found)
    assert client.get("/api/interface-delays", headers=third_token).json()["delays"] == []
    naive = client.get("/api/interface-delays", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 400


def test_an_escalation_read_back_says_where_it_stands_on_its_ladder(client: TestClient) -> None:
    created = push(client, escalation(), "escalations").json()
    ladder = client.get(f"/api/escalations/{created['id']}").json()["ladder"]
    assert ladder["level"] == "Front-line"
    assert ladder["contact"] == {
        "name": "Crisis resolution team duty line",
        "telephone": "01632 960100",
    }
    assert ladder["next_level"] == "Manager"
    assert ladder["next_contact"]["telephone"] == "01632 960101"
    assert (ladder["answered"], ladder["missed"]) == (False, False)
    summary = client.get(f"/fhir/{created['resources']['Communication']}/$summary").json()
    assert summary["ladder"]["respond_by"] == ladder["respond_by"]


DISSENT = {
    "resourceType": "Consent",
    "status": "active",
    "scope": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                "code": "patient-privacy",
            }
        ]
    },
    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    "patient": {
        "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
    },
    "dateTime": "2026-11-25T09:00:00Z",
    "organization": [{"identifier": {"system": ODS, "value": "AZZ"}}],
    "provision": {"type": "deny"},
}


def test_dissent_recorded_since_stops_the_step_up_and_only_the_sender_is_told(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    push(client, escalation(), "escalations")
    recorded = client.post(
        "/fhir/Consent",
        content=json.dumps(DISSENT),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert recorded.status_code == 201, recorded.text
    acted = watcher(client, timedelta(minutes=16)).run_once()
    assert [done.action for done in acted] == ["notify"]
    assert len(steps(client)) == 1  # nothing shared on the sender's behalf
    notices = client.get(
        "/fhir/Communication", params={"recipient:identifier": f"{ODS}|AZZ", "category": NOTICE}
    ).json()
    (notice,) = [entry["resource"] for entry in notices["entry"]]
    assert [r["identifier"]["value"] for r in notice["recipient"]] == ["AZZ"]
    assert "no longer permitted" in notice["payload"][0]["contentString"]
    seen = client.get(f"/fhir/Communication/{notice['id']}", headers=trust_token)
    assert seen.status_code == 404


def test_the_summary_page_shows_the_ladder_and_the_timeline(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    created = push(client, escalation(), "escalations").json()
    watcher(client, timedelta(minutes=16)).run_once()
    (_, second) = steps(client)
    page = client.get(
        f"/fhir/Communication/{second['communication_id']}/$summary",
        params={"_format": "html"},
        headers=trust_token,
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert "Escalation timeline" in html
    assert "Step 1: Front-line" in html
    assert "no response by its deadline" in html
    assert "Step 2: Manager</strong>" in html
    assert "(stepped up by the gateway)" in html
    # The ladder line: this step's contact, and whom it steps up to.
    assert "Trust on-call manager" in html
    assert "01632 960102" in html
    assert (
        created["id"]
        in client.get(
            f"/api/escalations/{second['service_request_id']}/timeline", headers=trust_token
        ).text
    )


def test_metrics_show_open_steps_the_watchers_lag_and_the_delays(client: TestClient) -> None:
    push(client, escalation(), "escalations")
    before = client.get("/metrics").text
    assert 'gateway_escalation_steps_open{receiver="RZZ"} 1.0' in before
    assert "gateway_escalation_deadline_lag_seconds 0.0" in before
    watcher(client, timedelta(minutes=16)).run_once()
    after = client.get("/metrics").text
    assert 'gateway_interface_delays{action="step-up",receiver="RZZ"} 1.0' in after
    assert "9434765919" not in after


def test_a_deadline_nobody_acts_on_shows_as_lag(client: TestClient) -> None:
    push(client, escalation(), "escalations")
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    later = datetime.now(UTC) + timedelta(minutes=17)
    lag = next(
        family
        for family in LadderCollector(runtime.database, lambda: later).collect()
        if family.name == "gateway_escalation_deadline_lag_seconds"
    )
    # The deadline was 15 minutes after receipt: two minutes unacted on, give or take.
    assert 100 < lag.samples[0].value < 140


def test_the_watcher_wakes_at_the_next_deadline_and_at_once_after_a_full_batch(
    client: TestClient,
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    idle = watcher(client, timedelta(0))
    idle.run_once()
    assert idle.pause_after([]) == 1.0  # nothing open: the poll
    push(client, escalation(), "escalations")
    # Its deadline is 15 minutes off: the poll, which is sooner.
    assert idle.pause_after(idle.run_once()) == 1.0
    # Half a second before the stored deadline (read back, so no time passing between
    # the push and this look can move it): wakes at the deadline, not a poll later.
    (step,) = steps(client)
    before = step["deadline"] - timedelta(seconds=0.5)
    almost = deadline_watcher(runtime.database, lambda: runtime.config, clock=lambda: before)
    almost.run_once()
    assert 0.5 <= almost.pause_after([]) < 0.52
    for n in range(3):
        push(client, escalation(external_id=f"EPR-BATCH-{n}"), "escalations")
    small = deadline_watcher(
        runtime.database,
        lambda: runtime.config,
        settings=WatcherSettings(batch=2),
        clock=lambda: datetime.now(UTC) + timedelta(minutes=16),
    )
    assert len(small.run_once()) == 2
    assert small.pause_after([]) == 0.0  # a full batch: more may be due, look again now


def test_a_third_organisation_cannot_stop_the_clock_or_continue_anothers_escalation(
    client: TestClient, third_token: dict[str, str]
) -> None:
    created = push(client, escalation(), "escalations").json()
    # It cannot answer (and so stop the clock on) an escalation it is no party to.
    answer = client.post(
        f"/api/escalations/{created['id']}/responses",
        content=json.dumps({"from": "Not involved", "summary": "Handled."}),
        headers={**third_token, "Content-Type": "application/json"},
    )
    assert answer.status_code in (403, 404)
    # Nor pass off its own escalation as the next step of the provider's.
    theirs = escalation(external_id="AXX-STEP-2")
    theirs["sender"] = {"ods": "AXX", "team": "Third provider"}
    theirs["escalation"]["related_referral"] = created["id"]
    pushed = push(client, theirs, "escalations", **third_token)
    assert pushed.status_code == 422, pushed.text
    (step,) = steps(client)
    assert step["state"] == "open"
    assert step["answered_at"] is None
    # Nor read the delays or reviews between others.
    watcher(client, timedelta(minutes=16)).run_once()
    assert client.get("/api/interface-delays", headers=third_token).json()["delays"] == []
