"""The dataset API end to end, on both databases: a handover or escalation pushed as JSON
is checked, stored as FHIR, deduplicated, served back as the same dataset, answered, and
summarised; bad input is refused with an OperationOutcome and nothing stored."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.codes.handover import OVERDUE_ON_RECEIPT
from core.handover.dataset_input import parse_dataset
from gateway.app import create_app
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, dataset_submissions, resources
from gateway.platform.settings import Settings
from tests.paths import EXAMPLES
from tests.tokens import PROVIDER, TRUST, access_token, bearer

JSON = {"Content-Type": "application/json"}


def example(name: str, *, respond_in: timedelta = timedelta(hours=2)) -> dict[str, Any]:
    """A spec example, due `respond_in` from now (the examples' own dates have passed)."""
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    due = datetime.now(UTC) + respond_in
    body["time_sensitivity"]["respond_by"] = due.isoformat(timespec="seconds")
    return body


def stored(database: Database) -> tuple[int, int]:
    """Resources (besides the directory's Organizations) and dataset submissions."""
    with database.read() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(resources)
            .where(resources.c.resource_type != "Organization")
        ).scalar_one()
        taken = connection.execute(
            select(func.count()).select_from(dataset_submissions)
        ).scalar_one()
    return count, taken


def push(client: TestClient, body: dict[str, Any], path: str = "handovers", **headers: str) -> Any:
    return client.post(f"/api/{path}", content=json.dumps(body), headers={**JSON, **headers})


def test_a_handover_is_stored_as_fhir_and_served_back_as_the_same_dataset(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    body = example("handover-crisis")
    # The optional address, for a home visit, is carried too.
    body["patient"]["address"] = {"lines": ["Flat 2", "14 Example Street"], "postcode": "ZZ99 3VZ"}
    response = push(client, body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["kind"] == "handover"
    assert response.headers["Location"].endswith(f"/api/handovers/{created['id']}")
    refs = created["resources"]
    assert refs["ServiceRequest"] == f"ServiceRequest/{created['id']}"
    assert len(refs["Flag"]) == 2
    # Each resource is a real FHIR resource the provider and the Trust can read.
    for reference in [refs["ServiceRequest"], *refs["Flag"], refs["Communication"]]:
        assert client.get(f"/fhir/{reference}").status_code == 200
        assert client.get(f"/fhir/{reference}", headers=trust_token).status_code == 200
    request = client.get(f"/fhir/{refs['ServiceRequest']}").json()
    assert request["priority"] == "asap"
    assert request["performer"][0]["identifier"]["value"] == "RZZ"

    served = client.get(f"/api/handovers/{created['id']}", headers=trust_token)
    assert served.status_code == 200, served.text
    assert parse_dataset(served.json()["dataset"]) == parse_dataset(body)
    # Served under its kind only.
    assert client.get(f"/api/escalations/{created['id']}").status_code == 404


def test_checklist_warnings_accept_the_handover_as_incomplete(client: TestClient) -> None:
    body = example("handover-crisis")
    del body["what_has_changed"], body["actions_taken"]
    response = push(client, body)
    assert response.status_code == 201, response.text
    completeness = response.json()["completeness"]
    assert completeness["complete"] is False
    assert {w["field"] for w in completeness["warnings"]} == {"what_has_changed", "actions_taken"}
    request = client.get(f"/fhir/{response.json()['resources']['ServiceRequest']}").json()
    assert any(tag["code"] == "incomplete" for tag in request["meta"]["tag"])
    # The gaps are on the FHIR a Trust pulls, in the checklist's order, and served from it.
    gaps = [
        extension["valueString"]
        for extension in request["extension"]
        if extension["url"].endswith("/StructureDefinition/checklist-gap")
    ]
    assert gaps == ["what_has_changed", "actions_taken"]
    served = client.get(f"/api/handovers/{response.json()['id']}").json()
    assert served["completeness"] == {"complete": False, "missing": gaps}
    assert served["overdue"] is False
    assert response.json()["overdue"] is False


def test_checklist_errors_list_every_gap_at_once_and_store_nothing(
    client: TestClient, database: Database
) -> None:
    body = example("handover-crisis")
    body["time_sensitivity"]["priority"] = "urgent"
    del body["current_presentation"], body["key_risks"], body["request"]
    response = push(client, body)
    assert response.status_code == 422, response.text
    expressions = {issue["expression"][0] for issue in response.json()["issue"]}
    assert {"current_presentation", "key_risks", "request.summary"} <= expressions
    assert stored(database) == (0, 0)


def test_an_emergency_is_never_refused_for_a_missing_clinical_field(client: TestClient) -> None:
    body = example("handover-crisis")
    body["time_sensitivity"]["priority"] = "emergency"
    del body["current_presentation"], body["key_risks"]
    response = push(client, body)
    assert response.status_code == 201, response.text
    fields = {w["field"] for w in response.json()["completeness"]["warnings"]}
    assert {"current_presentation", "key_risks"} <= fields


def test_a_repeated_push_is_a_duplicate_and_creates_nothing(
    client: TestClient, database: Database
) -> None:
    body = example("handover-crisis")
    first = push(client, body, **{"X-Request-ID": "epr-req-1"})
    assert first.status_code == 201
    before = stored(database)
    again = push(client, body, **{"X-Request-ID": "epr-req-1"})
    assert again.status_code == 409
    assert again.json()["issue"][0]["code"] == "duplicate"
    assert first.json()["id"] in again.json()["issue"][0]["diagnostics"]
    assert stored(database) == before
    changed = copy.deepcopy(body)
    changed["current_plan"] = "A different plan."
    assert push(client, changed).status_code == 422
    other_id = copy.deepcopy(changed)
    other_id["external_id"] = "EPR-2026-999999"
    reused = push(client, other_id, **{"X-Request-ID": "epr-req-1"})
    assert reused.status_code == 422
    assert reused.json()["issue"][0]["expression"] == ["X-Request-ID"]
    assert stored(database) == before


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        (lambda b: b["patient"].pop("nhs_number"), 400, "patient.nhs_number"),
        (lambda b: b["patient"].update(nhs_number="9434765918"), 400, "patient.nhs_number"),
        (lambda b: b.update(pathway="walk-in"), 400, "pathway"),
        (lambda b: b["receiver"].update(ods="RQQ"), 422, "receiver.ods"),
        (lambda b: b["sender"].update(ods="RZZ"), 403, "sender.ods"),
        (lambda b: b.update(current_plan="x" * 4001), 422, "current_plan"),
        (lambda b: b.update(curent_plan="typo"), 400, None),
        (lambda b: b.update(locality="atlantis"), 422, "locality"),
        (lambda b: b.update(resourceType="ServiceRequest"), 400, "resourceType"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, database: Database, change: Any, status: int, expression: str | None
) -> None:
    body = example("handover-crisis")
    change(body)
    response = push(client, body)
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    if expression is not None:
        assert [expression] in [issue.get("expression") for issue in outcome["issue"]]
    # Nothing sent is repeated back.
    assert "9434765918" not in response.text
    assert "atlantis" not in response.text
    assert stored(database) == (0, 0)


def test_an_escalation_is_answered_and_the_response_is_a_stored_fact(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    response = push(client, example("escalation-manager"), "escalations")
    assert response.status_code == 201, response.text
    created = response.json()
    communication = client.get(f"/fhir/{created['resources']['Communication']}").json()
    assert communication["status"] == "in-progress"

    answer = {
        "received_at": "2026-11-30T14:40:00Z",
        "from": "Crisis duty manager",
        "summary": "Home visit at 16:00.",
    }
    recorded = client.post(
        f"/api/escalations/{created['id']}/responses",
        content=json.dumps(answer),
        headers={**JSON, **trust_token},
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["dataset"]["escalation"]["response"] == answer
    communication = client.get(f"/fhir/{created['resources']['Communication']}").json()
    assert communication["status"] == "completed"
    assert communication["meta"]["versionId"] == "2"


def test_each_push_is_in_the_access_log_as_a_handover_push(
    client: TestClient, database: Database
) -> None:
    assert push(client, example("handover-crisis")).status_code == 201
    with database.read() as connection:
        subtypes = connection.execute(select(audit_events.c.content)).scalars().all()
    assert any(b'"handover-push"' in content for content in subtypes)


def test_a_receiver_an_agreement_withholds_free_text_from_sees_a_partial_dataset(
    withholding: TestClient,
) -> None:
    provider = bearer(access_token(withholding))
    trust = bearer(access_token(withholding, TRUST))
    created = push(withholding, example("escalation-manager"), "escalations", **provider)
    assert created.status_code == 201, created.text
    path = f"/api/escalations/{created.json()['id']}"
    shown = withholding.get(path, headers=trust).json()
    assert shown["withheld"] == ["free-text"]
    assert "current_presentation" not in shown["dataset"]
    assert shown["dataset"]["patient"]["nhs_number"] == "9434765919"
    # Its summary page says it is partial, and still gives a number to call (configured,
    # since the sender's own is free text), and the gaps (the ServiceRequest's extension).
    communication = created.json()["resources"]["Communication"]
    page = withholding.get(
        f"/fhir/{communication}/$summary", headers={**trust, "Accept": "text/html"}
    ).text
    assert 'id="withheld"' in page
    assert '<a href="tel:01632960200">01632 960200</a>' in page
    assert "<li>call-back number</li>" in page
    # The sender sees all it sent.
    own = withholding.get(path, headers=provider).json()
    assert "withheld" not in own
    assert own["dataset"]["current_presentation"]
    # Its response is a record of its own: nothing is rewritten from the part it sees,
    # and the gateway marks the escalation answered on the whole record.
    answered = withholding.post(
        f"{path}/responses", content=json.dumps({"summary": "Seen."}), headers={**JSON, **trust}
    )
    assert answered.status_code == 200, answered.text
    after = withholding.get(path, headers=provider).json()["dataset"]
    assert after["current_presentation"] == own["dataset"]["current_presentation"]
    assert after["escalation"]["response"]["summary"] == "Seen."


def test_an_escalation_names_a_referral_the_sender_can_see(
    client: TestClient, database: Database
) -> None:
    referral = push(client, example("handover-crisis")).json()
    body = example("escalation-manager")
    body["escalation"]["related_referral"] = "no-such-referral"
    refused = push(client, body, "escalations")
    assert refused.status_code == 422, refused.text
    assert refused.json()["issue"][0]["expression"] == ["escalation.related_referral"]
    body["escalation"]["related_referral"] = referral["id"]
    created = push(client, body, "escalations")
    assert created.status_code == 201, created.text
    communication = client.get(f"/fhir/{created.json()['resources']['Communication']}").json()
    assert {"reference": f"ServiceRequest/{referral['id']}"} in communication["basedOn"]


# --- Never refused for being late ---------------------------------------------------------

# The escalation example is an emergency due at 15:00 UTC on 21 Nov 2026; the gateway's
# clock says it arrives 20 minutes later (held in the EPR's outbox, say).
RESPOND_BY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
LATE = RESPOND_BY + timedelta(minutes=20)


@pytest.fixture
def late(settings: Settings) -> Iterator[TestClient]:
    """The real application, its clock 20 minutes past the escalation example's respond-by."""
    with TestClient(create_app(settings, clock=lambda: LATE), base_url="http://testserver") as app:
        yield app


def _published(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return body


def test_an_emergency_escalation_whose_respond_by_passed_20_minutes_ago_is_accepted_and_marked(
    late: TestClient, database: Database
) -> None:
    provider = bearer(access_token(late, PROVIDER))
    trust = bearer(access_token(late, TRUST))
    body = _published("escalation-manager")
    assert body["time_sensitivity"] == {
        "priority": "emergency",
        "respond_by": "2026-11-21T15:00:00Z",
    }
    response = push(late, body, "escalations", **provider)

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["overdue"] is True
    (warning,) = created["warnings"]
    assert warning["field"] == "time_sensitivity.respond_by"
    assert "overdue" in warning["message"]
    assert "15:00" not in warning["message"]
    # The checklist's result is where it always was, untouched by lateness (North's crisis
    # checklist wants a call-back number, which the example lacks).
    assert [gap["field"] for gap in created["completeness"]["warnings"]] == ["sender.contact"]
    assert stored(database) == (4, 1)
    # The Trust pulling the FHIR sees the mark; reading it back as the dataset, too.
    request = late.get(f"/fhir/{created['resources']['ServiceRequest']}", headers=trust).json()
    assert OVERDUE_ON_RECEIPT.coding() in request["meta"]["tag"]
    served = late.get(f"/api/escalations/{created['id']}", headers=trust).json()
    assert served["overdue"] is True
    assert parse_dataset(served["dataset"]) == parse_dataset(body)
    # And the summary page shows it overdue on receipt.
    page = late.get(
        f"/fhir/{created['resources']['Communication']}/$summary",
        headers={**trust, "Accept": "text/html"},
    )
    assert page.status_code == 200, page.text
    assert "Overdue on receipt" in page.text
    assert "(overdue by 20 minutes)" in page.text


@pytest.mark.parametrize("priority", ["urgent", "routine"])
def test_a_late_handover_of_any_priority_is_accepted_and_one_within_the_tolerance_unmarked(
    late: TestClient, priority: str
) -> None:
    provider = bearer(access_token(late, PROVIDER))
    body = _published("handover-crisis")
    body["time_sensitivity"] = {"priority": priority, "respond_by": "2020-01-01T00:00:00Z"}
    response = push(late, body, **provider)
    assert response.status_code == 201, response.text
    assert response.json()["overdue"] is True
    request = late.get(f"/fhir/{response.json()['resources']['ServiceRequest']}", headers=provider)
    assert OVERDUE_ON_RECEIPT.coding() in request.json()["meta"]["tag"]

    # Ten minutes late is within the 15 allowed for clock differences: not marked.
    body["external_id"] = "EPR-2026-000999"
    body["time_sensitivity"]["respond_by"] = (LATE - timedelta(minutes=10)).isoformat()
    on_time = push(late, body, **provider)
    assert on_time.status_code == 201, on_time.text
    assert on_time.json()["overdue"] is False
    assert on_time.json()["warnings"] == []
    request = late.get(f"/fhir/{on_time.json()['resources']['ServiceRequest']}", headers=provider)
    assert OVERDUE_ON_RECEIPT.coding() not in request.json().get("meta", {}).get("tag", [])
