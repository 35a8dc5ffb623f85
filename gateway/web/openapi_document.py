"""The OpenAPI document as the gateway answers, not as FastAPI guesses.

FastAPI documents one success answer per route, as application/json, plus a 422 in its
own validation-error shape, which the gateway never sends (its 400 and 422 are
OperationOutcomes). This states what is true of every route:
FHIR routes answer application/fhir+json; /metrics and the access report are text; any
route may refuse with an OperationOutcome (or, for OAuth and the health checks, a
JSON object), so the refusals are the `default` answer. A client generator and a
fuzzer can then hold the server to its document (tests/web/test_openapi_fuzz.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

FHIR_JSON = "application/fhir+json"

OPERATION_OUTCOME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}

REFUSAL = {
    "description": "A refusal: an OperationOutcome naming what was wrong (OAuth errors and "
    "the health checks answer a JSON object).",
    "content": {
        FHIR_JSON: {"schema": OPERATION_OUTCOME_SCHEMA},
        "application/json": {"schema": {"type": "object"}},
    },
}


def install_openapi_document(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_answers(
                get_openapi(title=app.title, version=app.version, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def describe_answers(document: dict[str, Any]) -> dict[str, Any]:
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            for response in responses.values():
                _retype(path, response)
            responses["default"] = REFUSAL
    return document


def _retype(path: str, response: dict[str, Any]) -> None:
    content = response.get("content", {})
    if "application/json" not in content:
        return
    if path.startswith("/fhir"):
        content[FHIR_JSON] = content.pop("application/json")
    elif path in _OTHER_MEDIA_TYPES:
        content.pop("application/json")
        for media_type in _OTHER_MEDIA_TYPES[path]:
            content[media_type] = {"schema": {"type": "string"}}


# Routes whose success is not JSON: Prometheus's text; the access report as CSV or as the
# AuditEvents themselves, one per line.
_OTHER_MEDIA_TYPES = {
    "/metrics": ("text/plain",),
    "/audit/reports/patient-access": ("text/csv", "application/x-ndjson"),
}
