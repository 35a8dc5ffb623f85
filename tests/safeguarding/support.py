"""Helpers for the safeguarding tests: the example action, due when a test says, and the
tracker's API called as the provider (the default client), the Trust or the third
organisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.paths import REPO

JSON = {"Content-Type": "application/json"}
EXAMPLE = REPO / "examples" / "safeguarding-action.json"


def action_body(due_in: timedelta = timedelta(days=2), **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(EXAMPLE.read_text())
    body["deadline"] = (datetime.now(UTC) + due_in).isoformat(timespec="seconds")
    body.update(changes)
    return body


def post(client: TestClient, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        f"/api/safeguarding/{path}", content=json.dumps(body), headers={**JSON, **headers}
    )


def raise_action(client: TestClient, **changes: Any) -> dict[str, Any]:
    answer = post(client, "actions", action_body(**changes))
    assert answer.status_code == 201, answer.text
    raised: dict[str, Any] = answer.json()
    return raised


def move(client: TestClient, action: str, status: str, **headers: str) -> Any:
    body: dict[str, Any] = {"status": status, "by": {"name": "Alex Rowe", "role": "Named nurse"}}
    if status == "completed":
        body["outcome"] = "Strategy discussion held; the local authority leads the enquiry."
        body["evidence"] = "Minutes filed in the Trust's safeguarding record."
    if status == "cancelled":
        body["reason"] = "Raised in error: a duplicate of an action already agreed."
    return post(client, f"actions/{action}/status", body, **headers)


def contact(client: TestClient, action: str, at: datetime | None = None, **headers: str) -> Any:
    body = {
        "kind": "strategy-meeting",
        "contacted": "Local authority adult safeguarding duty team",
        "at": (at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "agreed": "Strategy meeting on Thursday at 10:00; the Trust's named nurse attends.",
        "by": {"name": "Alex Rowe", "role": "Named nurse"},
    }
    return post(client, f"actions/{action}/contacts", body, **headers)
