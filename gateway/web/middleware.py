"""Per-request context: BaRS request and correlation ids, the access log line, and the
last line of defence that turns any unexpected error into an OperationOutcome."""

from __future__ import annotations

import re
import time

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.fhir.issues import Issue, IssueCode
from core.fhir.models import SUPPORTED_RESOURCE_TYPES
from gateway.access_log.recording import record_failure
from gateway.platform.clock import new_id
from gateway.platform.deadline import request_deadline
from gateway.platform.errors import AuditUnavailable, RequestTimedOut
from gateway.platform.logging import get_logger
from gateway.web.errors import answer_refusal, database_fault, unexpected_error_response
from gateway.web.responses import outcome_response

REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
_ID_SHAPE = re.compile(r"[A-Za-z0-9._:\-]{1,128}")

# On every response. Health data must never sit in a cache; and although this is an
# API, a browser that opens one of its URLs must not sniff, frame, script or refer.
# Defaults only: a response that sets one keeps its own (the summary page sets a
# Content-Security-Policy that also allows its one stylesheet, by hash).
_ALWAYS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# Only meaningful (and only honoured) over TLS.
_HSTS = ("Strict-Transport-Security", "max-age=31536000")

log = get_logger("gateway.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, timeout_seconds: float = 30.0) -> None:
        self.app = app
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id, correlation_id, invalid = _request_ids(Headers(scope=scope))
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        # For the access log, which records both ids on every AuditEvent.
        scope.setdefault("state", {}).update(request_id=request_id, correlation_id=correlation_id)
        state = {"status": 500, "started": False}

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                response_headers = MutableHeaders(scope=message)
                response_headers[REQUEST_ID] = request_id
                response_headers[CORRELATION_ID] = correlation_id
                for name, value in _ALWAYS.items():
                    response_headers.setdefault(name, value)
                if scope.get("scheme") == "https":
                    response_headers.setdefault(*_HSTS)
            await send(message)

        try:
            if invalid:
                await _invalid_ids_response(invalid)(scope, receive, send_with_ids)
            else:
                with request_deadline(self.timeout_seconds) as deadline:
                    await self.app(scope, receive, send_with_ids)
                if deadline.cancelled_caught:
                    raise TimeoutError
        except TimeoutError:
            # Waited too long for the body or for a database slot, or a read took too
            # long. A write whose transaction had opened is never cancelled (deadline.py),
            # so nothing this request was writing can commit after this answer.
            if state["started"]:
                raise
            log.warning("request.timed_out")
            await _timed_out_response()(scope, receive, send_with_ids)
        except ClientDisconnect:
            # The client went away mid-request: nobody to answer, nothing stored (the
            # body is read before any transaction opens), and not a server fault.
            state["status"] = 499
            log.info("request.abandoned")
        except Exception as error:
            if state["started"]:
                raise
            unavailable = database_fault(error)
            if unavailable is not None:
                # Met outside a route (the access-log write of a read, say): still a 503.
                response = await answer_refusal(Request(scope), unavailable)
            else:
                response = unexpected_error_response(error)
                await _audit_unexpected_failure(scope)
            await response(scope, receive, send_with_ids)
        finally:
            log.info(
                "request.completed",
                method=scope["method"],
                # The route template, not the path: a path is client input and may carry
                # an identifier; the template never does.
                route=_route_template(scope),
                status=state["status"],
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


def _invalid_ids_response(invalid: list[str]) -> Response:
    issues = [
        Issue(
            IssueCode.INVALID,
            f"{name} must be 1 to 128 letters, digits or . _ : - (a UUID is usual).",
            name,
        )
        for name in invalid
    ]
    return outcome_response(400, issues)


def _timed_out_response() -> Response:
    timed_out = RequestTimedOut(
        "The request waited too long (for its body or for the database) and was "
        "abandoned before anything was stored. Retry with the same X-Request-ID."
    )
    return outcome_response(timed_out.status, timed_out.issues, {"Retry-After": "5"})


def _request_ids(headers: Headers) -> tuple[str, str, list[str]]:
    """The BaRS ids as sent, or new ones; and which of those sent are malformed."""
    supplied_request_id = headers.get(REQUEST_ID)
    supplied_correlation_id = headers.get(CORRELATION_ID)
    invalid = [
        name
        for name, value in (
            (REQUEST_ID, supplied_request_id),
            (CORRELATION_ID, supplied_correlation_id),
        )
        if value is not None and not _ID_SHAPE.fullmatch(value)
    ]
    if invalid:
        return new_id(), new_id(), invalid
    return (
        supplied_request_id or new_id(),
        supplied_correlation_id or new_id(),
        invalid,
    )


async def _audit_unexpected_failure(scope: Scope) -> None:
    try:
        await record_failure(Request(scope), 500, "The request failed in the server.")
    except AuditUnavailable:
        # The answer is a 500 either way; the log line is what remains.
        log.error("audit.unexpected_error_unlogged")


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "(no route)"
    resource_type = scope.get("path_params", {}).get("resource_type")
    if resource_type in SUPPORTED_RESOURCE_TYPES:
        template = template.replace("{resource_type}", resource_type)
    return template
