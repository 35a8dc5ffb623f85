"""What every refusal in this package is checked for: the status and OperationOutcome,
that the store did not change, and the refusal's AuditEvent in the access log."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.platform.database import Database
from gateway.platform.schema import dataset_submissions, resources


def refused_issue(response: httpx.Response, status: int, expression: str | None) -> dict[str, Any]:
    """The OperationOutcome's issue at `expression` (None: its first issue), after
    checking the status."""
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    issues = [
        issue
        for issue in outcome["issue"]
        if expression is None or expression in issue.get("expression", [])
    ]
    assert issues, outcome
    assert issues[0]["severity"] == "error"
    return dict(issues[0])


def store_contents(database: Database) -> tuple[int, int]:
    """Resources (the directory's Organizations aside) and dataset submissions held."""
    with database.read() as connection:
        held = connection.execute(
            select(func.count())
            .select_from(resources)
            .where(resources.c.resource_type != "Organization")
        ).scalar_one()
        taken = connection.execute(
            select(func.count()).select_from(dataset_submissions)
        ).scalar_one()
    return int(held), int(taken)


def assert_refusal_logged(
    client: TestClient, ig: dict[str, str], subtype: str, client_id: str, says: str
) -> None:
    """One refused event of this interaction by this client, its description saying why
    (the words the refusal's message starts with)."""
    response = client.get(
        "/fhir/AuditEvent",
        params={"subtype": subtype, "outcome": "4", "_count": "100"},
        headers=ig,
    )
    assert response.status_code == 200, response.text
    events = [
        entry["resource"]
        for entry in response.json().get("entry", [])
        if client_id in str(entry["resource"]["agent"])
    ]
    assert len(events) == 1, events
    assert says in events[0]["outcomeDesc"], events[0]["outcomeDesc"]
