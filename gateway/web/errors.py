"""The one place errors become HTTP responses: an OperationOutcome, never a stack trace.

GatewayError and the framework's own refusals are handled here; anything unexpected is
caught by RequestContextMiddleware (unexpected_error_response), outside the framework,
so that neither Starlette nor the ASGI server re-raises it into a log with its message.
"""

from __future__ import annotations

import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from core.fhir.issues import Issue, IssueCode
from core.search.errors import FormatNotServed, SearchRefused
from gateway.access_log.recording import record_failure
from gateway.platform import database_faults as faults
from gateway.platform.errors import (
    AuditUnavailable,
    DatabaseUnavailable,
    GatewayError,
    InvalidSearch,
    NotAcceptable,
    TokenRequestRefused,
)
from gateway.platform.logging import get_logger
from gateway.web.refused_methods import refused_method
from gateway.web.responses import outcome_response

log = get_logger(__name__)

_HTTP_CODES = {
    404: (IssueCode.NOT_FOUND, "There is nothing at this URL."),
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_validation)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_exception)  # type: ignore[arg-type]
    app.add_exception_handler(SQLAlchemyError, _database_error)  # type: ignore[arg-type]
    app.add_exception_handler(SearchRefused, _search_refused)  # type: ignore[arg-type]
    app.add_exception_handler(FormatNotServed, _format_not_served)  # type: ignore[arg-type]


async def _search_refused(request: Request, error: SearchRefused) -> Response:
    """The core's refusal of a search, answered as the gateway's (400)."""
    return await _gateway_error(request, InvalidSearch(error.message, expression=error.expression))


async def _format_not_served(request: Request, error: FormatNotServed) -> Response:
    return await _gateway_error(request, NotAcceptable(error.message))


def database_fault(error: BaseException) -> DatabaseUnavailable | None:
    """The 503 for a database fault of the moment (gateway.platform.database_faults), else None.

    Whichever layer met it (pool connect, a statement, the commit, the access-log
    write), it is answered alike: by this module's handler inside the framework, and by
    the middleware's last line of defence outside it."""
    if not faults.is_unavailable(error):
        return None
    log.warning(
        "request.database_unavailable",
        error_type=type(error).__name__,
        sqlstate=faults.sqlstate_of(error),
    )
    return DatabaseUnavailable(unreachable=faults.is_unreachable(error))


async def _database_error(request: Request, error: SQLAlchemyError) -> Response:
    unavailable = database_fault(error)
    if unavailable is None:
        raise error  # unexpected: answered 500 by the middleware's last line of defence
    return await answer_refusal(request, unavailable)


async def answer_refusal(request: Request, error: GatewayError) -> Response:
    """A GatewayError as its answer, recorded in the access log first (fail closed)."""
    return await _gateway_error(request, error)


async def _gateway_error(request: Request, error: GatewayError) -> Response:
    log.info(
        "request.refused",
        status=error.status,
        issue_codes=",".join(str(issue.code) for issue in error.issues),
    )
    # A database that cannot be reached cannot take the refusal's AuditEvent either:
    # trying would only make the sender wait a second connect timeout for the same 503.
    unreachable = isinstance(error, DatabaseUnavailable) and error.unreachable
    if not isinstance(error, AuditUnavailable) and not unreachable:
        try:
            # Messages name elements, never values: safe as the event's outcomeDesc.
            await record_failure(request, error.status, error.message, error)
        except AuditUnavailable as unavailable:
            error = unavailable
    if isinstance(error, TokenRequestRefused):
        # OAuth clients parse RFC 6749 error JSON from the token endpoint.
        return JSONResponse(
            {"error": error.error, "error_description": error.message},
            status_code=error.status,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache", **error.headers},
        )
    return outcome_response(error.status, error.issues, error.headers)


async def _request_validation(request: Request, error: RequestValidationError) -> Response:
    message = "A request parameter or header is missing or malformed."
    try:
        await record_failure(request, 400, message)
    except AuditUnavailable as unavailable:
        return outcome_response(unavailable.status, unavailable.issues)
    issues = [
        Issue(
            IssueCode.INVALID,
            message,
            ".".join(str(part) for part in detail.get("loc", ())),
        )
        for detail in error.errors()
    ]
    return outcome_response(400, issues)


async def _http_exception(request: Request, error: HTTPException) -> Response:
    if error.status_code == 405:
        # A method the URL does not take: a refusal like any other, logged with its caller.
        return await _gateway_error(request, await refused_method(request))
    code, message = _HTTP_CODES.get(error.status_code, (IssueCode.PROCESSING, "Request refused."))
    try:
        await record_failure(request, error.status_code, message)
    except AuditUnavailable as unavailable:
        return outcome_response(unavailable.status, unavailable.issues)
    return outcome_response(error.status_code, [Issue(code, message)], error.headers)


def unexpected_error_response(error: Exception) -> Response:
    # The message of an unexpected error may quote data; log its type and where it arose.
    # A database error's SQLSTATE (e.g. 42703 undefined column) names the failure without
    # quoting any data, so an operator can tell a schema problem from a lost connection.
    frames = traceback.extract_tb(error.__traceback__)
    where = " <- ".join(f"{f.name}:{f.lineno}" for f in reversed(frames[-6:]))
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    log.error(
        "request.failed",
        error_type=type(error).__name__,
        where=where,
        sqlstate=sqlstate if isinstance(sqlstate, str) else None,
    )
    return outcome_response(
        500, [Issue(IssueCode.EXCEPTION, "The server could not complete the request.")]
    )
