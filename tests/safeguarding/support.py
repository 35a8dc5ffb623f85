"""Helpers for the safeguarding tests: the example action, due when a test says, and the
tracker's API called as the provider (the default client), the Trust or the third
organisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.deadline_sources import deadline_watcher
from gateway.platform.deadlines import Acted
from gateway.platform.schema import safeguarding_deadlines
from tests.paths import REPO

JSON = {"Content-Type": "application/json"}
EXAMPLE = REPO / "examples" / "safeguarding-action.json"


def action_body(
    due_in: timedelta = timedelta(days=2), now: datetime | None = None, **changes: Any
) -> dict[str, Any]:
    """The example action, due `due_in` after `now` (the wall clock's, unless given)."""
    body: dict[str, Any] = json.loads(EXAMPLE.read_text())
    body["deadline"] = ((now or datetime.now(UTC)) + due_in).isoformat(timespec="seconds")
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


def watch_at(client: TestClient, moment: datetime) -> list[Acted]:
    """One look by the app's own deadline watcher, on a clock at `moment`: what it did
    about safeguarding work."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    watcher = deadline_watcher(runtime.database, lambda: runtime.config, clock=lambda: moment)
    return [done for done in watcher.run_once() if done.source == "safeguarding-overdue"]


def deadlines(client: TestClient) -> list[dict[str, Any]]:
    """The safeguarding deadlines' rows, oldest first."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.read() as connection:
        query = select(safeguarding_deadlines).order_by(safeguarding_deadlines.c.opened_at)
        return [dict(row._mapping) for row in connection.execute(query)]
