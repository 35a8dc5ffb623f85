"""FHIR JSON responses and OperationOutcome bodies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from core.fhir.issues import Issue, IssueCode
from gateway.web.http_headers import preferences

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


def written_response(
    request: Request,
    *,
    location: str,
    version_headers: dict[str, str],
    content: str,
    status: int,
    summary: str,
) -> Response:
    """The answer to a create or update, as the client's `Prefer: return` asks: nothing,
    an OperationOutcome saying `summary`, or the stored version (`content`)."""
    headers = {**version_headers, "Location": location}
    wanted = preferences(request).return_
    if wanted == "minimal":
        return fhir_response(None, status, headers)
    if wanted == "OperationOutcome":
        return fhir_response(informational(summary), status, headers)
    return fhir_response(content, status, headers)
