"""HTTP/1.1 connection limits for `gateway serve`: what a client may hold open and send
before the application sees a request.

Uvicorn's default parser (httptools) takes a request head of any size and any number of
header fields, and uvicorn gives a connection unlimited time to finish its head. So the
server speaks HTTP through h11 (pure Python, the parser mutual TLS already used), whose
receive buffer is bounded while a head is incomplete, and this subclass of uvicorn's h11
protocol adds what neither has:

- a request head larger than `max_header_bytes`, or with more than `max_headers` fields,
  is answered 431 (Request Header Fields Too Large) and the connection closed;
- a connection that has not finished a request head `header_timeout_seconds` after it
  opened (or after its last response) is closed, so slow-header (slowloris) and silent
  sockets cannot hold file descriptors;
- a source address may hold at most `max_connections_per_source` connections: the next
  one is answered 503 with Retry-After and closed, so one source cannot take every
  descriptor and starve everyone else (health checks included).

Refusals here happen before routing, so they are not in the access log (no request was
made); each is a log line with its reason, never the address or any header value.
The timers are event-loop timers (monotonic, relative): faketime's offset moves none.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from core.fhir.issues import Issue, IssueCode
from gateway.platform.logging import get_logger
from gateway.platform.settings import Settings
from gateway.web.responses import operation_outcome

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    max_headers: int
    header_timeout_seconds: float
    max_connections_per_source: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_header_bytes=settings.http_max_header_bytes,
            max_headers=settings.http_max_headers,
            header_timeout_seconds=settings.http_header_timeout_seconds,
            max_connections_per_source=settings.http_max_connections_per_source,
        )


class HeadersTooLarge(h11.RemoteProtocolError):
    """A complete head over the limits (h11 itself only bounds an incomplete one)."""


class BoundedConnection(h11.Connection):
    """h11's server side, which also refuses a complete head over the limits and
    remembers the status a refusal should carry (uvicorn answers every one 400)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        # h11 raises (hint 431) once an incomplete head outgrows its receive buffer.
        super().__init__(h11.SERVER, max_incomplete_event_size=limits.max_header_bytes)
        self._limits = limits
        self.refusal_status = 400

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            self.refusal_status = 431 if error.error_status_hint == 431 else 400
            raise
        if isinstance(event, h11.Request):
            size = len(event.target) + sum(
                len(name) + len(value) + 4 for name, value in event.headers
            )
            if (
                len(event.headers) > self._limits.max_headers
                or size > self._limits.max_header_bytes
            ):
                self.refusal_status = 431
                raise HeadersTooLarge("request head over the limits", error_status_hint=431)
        return event


class LimitedH11Protocol(H11Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.conn = self._bounded = BoundedConnection(limits)
        self._head_timer: asyncio.TimerHandle | None = None
        self._lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._source_connections() > self.limits.max_connections_per_source:
            log.warning("http.refused", reason="connections-per-source")
            self._refuse(503, IssueCode.TRANSIENT, "Too many connections from this address.")
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused request: read and dropped
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._stop_head_timer()  # the head is complete (or refused)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()  # the next request on this connection gets the same time

    def send_400_response(self, msg: str) -> None:
        """Uvicorn's answer to anything h11 refuses: 431 when it was the head's size."""
        if self._bounded.refusal_status == 431:
            log.warning("http.refused", reason="request-head-too-large")
            self._respond(431, IssueCode.TOO_LONG, "The request's header fields are too large.")
        else:
            log.warning("http.refused", reason="malformed-request")
            self._respond(400, IssueCode.INVALID, "The request is not valid HTTP/1.1.")

    def _source_connections(self) -> int:
        """Open connections from this one's address, itself included. A scan of this
        process's connections, each new one: at most a few thousand, and cheaper than
        keeping a second count that every close must remember to decrement."""
        if self.client is None:
            return 1
        host = self.client[0]
        clients = (getattr(other, "client", None) for other in self.connections)
        return sum(1 for client in clients if client is not None and client[0] == host)

    def _await_head(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(
            self.limits.header_timeout_seconds, self._head_too_slow
        )

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            log.info("http.closed", reason="request-head-timeout")
            self.transport.close()

    def _refuse(self, status: int, code: IssueCode, message: str) -> None:
        """An answer before any request was read, then close: written as raw bytes, since
        h11 only answers a request it has parsed."""
        body = _outcome(code, message)
        head = (
            f"HTTP/1.1 {status} {_reason(status).decode()}\r\n"
            "Content-Type: application/fhir+json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "Retry-After: 1\r\n"
            "Connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body)
        # At once, without lingering: a source over its cap must not hold descriptors
        # for longer than it takes to say no. (A client that has already sent its request
        # may see a reset rather than this answer; either way it was refused.)
        self.transport.close()

    def _respond(self, status: int, code: IssueCode, message: str) -> None:
        body = _outcome(code, message)
        headers = [
            (b"content-type", b"application/fhir+json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        try:
            self.transport.write(
                self.conn.send(
                    h11.Response(status_code=status, headers=headers, reason=_reason(status))
                )
            )
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            self.transport.close()  # h11 cannot answer in this state; closing is the answer
            return
        self._linger(_LINGER_SECONDS)

    def _linger(self, seconds: float) -> None:
        """Close after the answer without resetting the connection: closing a socket with
        unread data sends a reset, and the client (still sending its oversized head)
        would lose the 431. So the rest is read and dropped for a moment, as web servers
        do (nginx's lingering close), then the connection is closed."""
        self._lingering = True
        self._stop_head_timer()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(seconds, self.transport.close)


_LINGER_SECONDS = 2.0


def _reason(status: int) -> bytes:
    return HTTPStatus(status).phrase.encode("ascii")


def _outcome(code: IssueCode, message: str) -> bytes:
    return json.dumps(operation_outcome([Issue(code, message)]), separators=(",", ":")).encode()


def limited_protocol(
    settings: Settings, protocol: type[LimitedH11Protocol] = LimitedH11Protocol
) -> Any:
    """The `http` argument for uvicorn: a protocol factory with the limits bound (a
    partial of module-level names, so that it pickles for `--workers` > 1)."""
    return partial(protocol, limits=ConnectionLimits.from_settings(settings))
