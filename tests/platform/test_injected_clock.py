"""The clock passed to create_app is the one every request reads: what a push and an
escalation's response record is the injected time, never the machine's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.platform.settings import Settings
from tests.paths import EXAMPLES
from tests.tokens import PROVIDER, TRUST, access_token, bearer

JSON = {"Content-Type": "application/json"}
# Inside the demo agreement's validity (2026-01-01 to 2028-12-31), with a fraction.
PUSHED = datetime(2026, 11, 30, 14, 0, 0, 250000, tzinfo=UTC)
ANSWERED = PUSHED + timedelta(minutes=40)


class _Clock:
    """The gateway's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock(PUSHED)


@pytest.fixture
def app(settings: Settings, clock: _Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock), base_url="http://testserver") as client:
        yield client


def _escalation() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "escalation-manager.json").read_text())
    body["time_sensitivity"]["respond_by"] = (PUSHED + timedelta(hours=2)).isoformat()
    return body


def _read(app: TestClient, reference: str, token: dict[str, str]) -> dict[str, Any]:
    response = app.get(f"/fhir/{reference}", headers=token)
    assert response.status_code == 200, response.text
    content: dict[str, Any] = response.json()
    return content


def test_a_push_and_its_response_record_the_injected_clock(app: TestClient, clock: _Clock) -> None:
    provider = bearer(access_token(app, PROVIDER))
    trust = bearer(access_token(app, TRUST))
    pushed = app.post(
        "/api/escalations", content=json.dumps(_escalation()), headers=JSON | provider
    )
    assert pushed.status_code == 201, pushed.text
    created = pushed.json()
    assert created["received_at"] == "2026-11-30T14:00:00.250000Z"
    request = _read(app, created["resources"]["ServiceRequest"], provider)
    assert request["authoredOn"] == "2026-11-30T14:00:00.250000Z"
    assert request["meta"]["lastUpdated"] == "2026-11-30T14:00:00.250000Z"

    clock.now = ANSWERED
    answer = {"from": "Crisis duty manager", "summary": "Home visit at 16:00."}
    recorded = app.post(
        f"/api/escalations/{created['id']}/responses",
        content=json.dumps(answer),
        headers=JSON | trust,
    )

    assert recorded.status_code == 200, recorded.text
    response = recorded.json()["dataset"]["escalation"]["response"]
    assert response["received_at"] == "2026-11-30T14:40:00.250000Z"
    summary = _read(app, created["resources"]["Communication"], trust)
    assert summary["status"] == "completed"
    assert summary["meta"]["lastUpdated"] == "2026-11-30T14:40:00.250000Z"
