"""Schemathesis against the whole OpenAPI document of a real `gateway serve`, bounded:
a fixed number of examples per operation, derandomised (the same cases every run), with
a valid token. No answer may be a server error (5xx), and every answer must be one the
document declares: its status (or the `default` refusal), its media type, and a JSON
body that its schema accepts.

SQLite only: the run costs a minute or two of two shared cores, and each operation's
path through the database is the same code on both; the database faults only PostgreSQL
shows are tested against PostgreSQL elsewhere.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from gateway.platform import migrate
from gateway.platform.database import Database
from tests.servers import running_server, served_token

# Per operation; with 34 operations, a few hundred requests in all.
EXAMPLES_PER_OPERATION = 12


def test_every_generated_request_gets_a_documented_answer_and_no_server_error(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'gateway.db'}"
    database = Database(database_url)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    with running_server(
        database_url,
        GATEWAY_RATE_LIMIT_PER_SECOND="100000",
        GATEWAY_RATE_LIMIT_BURST="100000",
    ) as base:
        token = served_token(base)
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 30
        problems: list[str] = []
        for operation in operations:
            problems += _fuzz(operation, base, token)
    assert problems == []


def _fuzz(operation: Any, base: str, token: dict[str, str]) -> list[str]:
    found: list[str] = []
    responses: dict[str, Any] = operation.definition.raw["responses"]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, headers=token, timeout=30)
        problem = _nonconformance(responses, response.status_code, response)
        if problem is not None:
            found.append(f"{case.method} {operation.path} -> {response.status_code}: {problem}")

    run()
    return found


def _nonconformance(responses: dict[str, Any], status: int, response: Any) -> str | None:
    if status >= 500:
        return "a server error"
    declared = responses.get(str(status)) or responses.get("default")
    if declared is None:
        return "a status the document does not declare"
    content: dict[str, Any] = declared.get("content", {})
    media_type = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if not content:
        return None if not response.content else "a body where none is declared"
    if media_type not in content:
        return f"{media_type or 'no media type'}, not one of {sorted(content)}"
    if media_type.endswith("json"):
        try:
            jsonschema.validate(json.loads(response.content), content[media_type]["schema"])
        except jsonschema.ValidationError as error:
            return f"a body its schema refuses ({error.message[:120]})"
    return None
