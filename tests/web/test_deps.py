"""Every JSON body, whichever route takes it, is read by one dependency: a lone UTF-16
surrogate anywhere in it (a "\\ud800" escape that is not half of a pair, which no
database can store) is refused 400, naming the field by its path and never repeating
its value, and nothing is stored. On both databases."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.platform.database import Database
from gateway.platform.schema import metadata
from tests.builders import service_request
from tests.paths import EXAMPLES

LONE = "\ud800"


def _example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return body


def _with(body: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    change(changed)
    return changed


def _set(path: list[str | int], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        node: Any = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


CASES = [
    pytest.param(
        "/api/handovers",
        _with(_example("handover-crisis"), _set(["key_risks", 0, "description"], f"cut{LONE}")),
        "key_risks[0].description",
        id="handover-free-text",
    ),
    pytest.param(
        "/api/handovers",
        _with(_example("handover-crisis"), _set(["patient", "name", "family"], LONE)),
        "patient.name.family",
        id="handover-name",
    ),
    pytest.param(
        "/api/handovers",
        _with(_example("handover-crisis"), _set(["external_id"], f"EPR-{LONE}")),
        "external_id",
        id="handover-identifier",
    ),
    pytest.param(
        "/api/escalations",
        _with(_example("escalation-manager"), _set(["current_plan"], f"plan {LONE}")),
        "current_plan",
        id="escalation",
    ),
    pytest.param(
        "/api/escalations/any-id/responses",
        {"outcome": f"accepted{LONE}"},
        "outcome",
        id="escalation-response",
    ),
    pytest.param(
        "/fhir/ServiceRequest",
        service_request(note=[{"text": f"note {LONE}"}]),
        "ServiceRequest.note[0].text",
        id="fhir-create",
    ),
    pytest.param(
        "/fhir/Consent",
        {"resourceType": "Consent", "status": "active", "scope": {"text": f"x{LONE}"}},
        "Consent.scope.text",
        id="fhir-consent",
    ),
    pytest.param(
        "/fhir/$process-message",
        {"resourceType": "Bundle", "type": "message", "id": LONE},
        "Bundle.id",
        id="fhir-message",
    ),
    pytest.param(
        "/api/handovers",
        {"dataset": "handover", f"key{LONE}": "value"},
        None,
        id="a-key",
    ),
]


def _rows(database: Database) -> dict[str, int]:
    with database.read() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
            # The refusal itself is logged, and the log's sequencer runs meanwhile; on
            # PostgreSQL the request took from its client's bucket.
            if not table.name.startswith("audit_") and table.name != "rate_limit_buckets"
        }


@pytest.mark.parametrize(("path", "body", "expression"), CASES)
def test_a_lone_surrogate_in_any_json_body_is_refused_400_naming_the_field(
    client: TestClient, database: Database, path: str, body: dict[str, Any], expression: str | None
) -> None:
    before = _rows(database)
    # ensure_ascii (json.dumps's default) writes the surrogate as the escape \ud800.
    sent = json.dumps(body).encode()
    assert b"\\ud800" in sent

    response = client.post(path, content=sent, headers={"Content-Type": "application/json"})

    assert response.status_code == 400, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "value"
    assert "surrogate" in issue["diagnostics"]
    assert issue.get("expression") == ([expression] if expression else None)
    assert "\\ud800" not in response.text
    assert _rows(database) == before


def test_a_surrogate_percent_encoded_in_a_query_or_form_is_never_a_server_error(
    client: TestClient,
) -> None:
    # ED A0 80 would be U+D800 in UTF-8 if UTF-8 allowed it; decoding replaces it, so a
    # query or form parameter never carries a surrogate to the database.
    in_query = client.get("/fhir/ServiceRequest?identifier=x%ED%A0%80")
    in_form = client.post(
        "/fhir/ServiceRequest/_search",
        content=b"identifier=x%ED%A0%80",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert in_query.status_code < 500, in_query.text
    assert in_form.status_code < 500, in_form.text
