"""The edge's handling of unexpected errors: a bare OperationOutcome out, a safe line in."""

from __future__ import annotations

import json

import psycopg
from sqlalchemy.exc import ProgrammingError
from structlog.testing import capture_logs

from gateway.web.errors import unexpected_error_response


def test_an_unexpected_database_error_logs_its_sqlstate_and_nothing_it_quotes() -> None:
    try:
        raise ProgrammingError(
            "SELECT * FROM x WHERE nhs = '9434765919'",
            {"nhs": "9434765919"},
            psycopg.errors.UndefinedColumn("column 9434765919 does not exist"),
        )
    except ProgrammingError as error:
        with capture_logs() as logs:
            response = unexpected_error_response(error)

    assert response.status_code == 500
    body = json.loads(bytes(response.body))
    assert body["issue"][0]["code"] == "exception"
    assert "9434765919" not in bytes(response.body).decode()
    assert logs[0]["sqlstate"] == "42703"
    assert logs[0]["error_type"] == "ProgrammingError"
    assert "9434765919" not in json.dumps(logs)


def test_an_unexpected_error_without_a_sqlstate_logs_none() -> None:
    try:
        raise ValueError("Alex Example 9434765919")
    except ValueError as error:
        with capture_logs() as logs:
            unexpected_error_response(error)
    assert logs[0]["sqlstate"] is None
    assert "Alex" not in json.dumps(logs)
