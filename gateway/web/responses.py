"""FHIR JSON responses and OperationOutcome bodies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import Response

from core.fhir.issues import Issue, IssueCode

FHIR_JSON = "application/fhir+json"
FHIR_JSON_UTF8 = "application/fhir+json; charset=utf-8"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fhir_response(
    body: str | Mapping[str, Any] | None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    content = body if isinstance(body, str) or body is None else dumps(body)
    return Response(
        content=content.encode("utf-8") if content is not None else b"",
        status_code=status,
        headers=dict(headers or {}),
        media_type=FHIR_JSON_UTF8 if content is not None else None,
    )


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    rendered = []
    for issue in issues:
        entry: dict[str, Any] = {
            "severity": issue.severity,
            "code": str(issue.code),
            "diagnostics": issue.diagnostics,
        }
        if issue.expression:
            entry["expression"] = [issue.expression]
        rendered.append(entry)
    return {"resourceType": "OperationOutcome", "issue": rendered}


def outcome_response(
    status: int, issues: Iterable[Issue], headers: Mapping[str, str] | None = None
) -> Response:
    return fhir_response(operation_outcome(issues), status, headers)


def informational(message: str) -> dict[str, Any]:
    return operation_outcome([Issue(IssueCode.INFORMATIONAL, message, severity="information")])
