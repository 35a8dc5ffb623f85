"""The OpenAPI document declares the JSON body of each /api route that reads its body
raw, as the dataset's JSON Schema, so that a client generator or a fuzzer can use it."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from tests.paths import EXAMPLES


def _body_schema(client: TestClient, path: str) -> dict[str, Any]:
    operation = client.get("/openapi.json").json()["paths"][path]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    return schema


@pytest.mark.parametrize(
    ("path", "example"),
    [
        ("/api/handovers", "handover-crisis.json"),
        ("/api/escalations", "escalation-manager.json"),
    ],
)
def test_each_dataset_route_declares_its_body_and_the_examples_conform(
    anonymous: TestClient, path: str, example: str
) -> None:
    schema = _body_schema(anonymous, path)
    # Standalone: no reference a generator would have to resolve elsewhere.
    assert "$ref" not in json.dumps(schema)
    jsonschema.validate(json.loads((EXAMPLES / example).read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"dataset": "handover", "unknown": 1}, schema)


def test_an_escalation_response_body_is_declared_with_from_as_sent(
    anonymous: TestClient,
) -> None:
    schema = _body_schema(anonymous, "/api/escalations/{dataset_id}/responses")
    assert set(schema["properties"]) == {"received_at", "from", "summary"}


@pytest.mark.parametrize("path", ["/api/handovers", "/api/escalations"])
def test_the_declared_example_is_accepted(client: TestClient, path: str) -> None:
    """A generator's starting point must be a body the gateway takes."""
    example = client.get("/openapi.json").json()["paths"][path]["post"]["requestBody"]
    body = example["content"]["application/json"]["example"]
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
