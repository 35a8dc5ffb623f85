"""The benchmark's receiver: a Trust system on loopback that takes BaRS messages as fast
as it can, in a process of its own (so it never shares a GIL with the workers).

A bare ASGI app under uvicorn (uvloop and httptools when installed, one process, no
access log). `POST /fhir/$process-message` reads the whole body and keeps it by
X-Request-ID: a new id is answered 200 with a Location at once, a repeat 409 with an
OperationOutcome `duplicate` (as BaRS asks, and as the gateway counts as delivered),
a request without the header 400. Nothing is parsed or validated: the figures are the
gateway's, not the receiver's. `GET /stats` answers the counts, `GET /ids` every stored
id, `POST /reset` forgets everything. A subclass that sets `keeps_bodies` is handed each
newly stored message's bytes (`kept`) before it is answered (bench/ladders/receiver.py).

    python -m bench.outbox.receiver --port 8765
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvicorn

PROCESS_MESSAGE = "/fhir/$process-message"
DUPLICATE = json.dumps(
    {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "duplicate"}],
    }
).encode()

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class Receiver:
    """The ASGI app. One event loop, so no locks: each request's check and store run
    without an await between them."""

    # Whether `kept` is called with each newly stored message (else bodies are counted only).
    keeps_bodies = False

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.stored: dict[str, int] = {}  # X-Request-ID -> body bytes
        self.requests = 0
        self.duplicates = 0
        self.refused = 0  # no X-Request-ID

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == PROCESS_MESSAGE:
            await self._process_message(scope, receive, send)
        elif method == "GET" and path == "/stats":
            await _answer(send, 200, self.stats())
        elif method == "GET" and path == "/ids":
            await _answer(send, 200, sorted(self.stored))
        elif method == "POST" and path == "/reset":
            self.reset()
            await _answer(send, 200, self.stats())
        elif method == "GET" and path in self.views:
            await _answer(send, 200, self.views[path]())
        else:
            await _answer(send, 404, {"error": "not found"})

    @property
    def views(self) -> dict[str, Callable[[], Any]]:
        """More `GET` paths a subclass answers, each with what it returns as JSON."""
        return {}

    def reset(self) -> None:
        self.stored.clear()
        self.requests = self.duplicates = self.refused = 0

    def kept(self, request_id: str, body: bytes) -> None:
        """A newly stored message, whole (only when `keeps_bodies`); nothing here."""

    def stats(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "stored": len(self.stored),
            "duplicates": self.duplicates,
            "refused": self.refused,
            "bytes": sum(self.stored.values()),
        }

    async def _process_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        size = 0
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if self.keeps_bodies:
                chunks.append(chunk)
            if not message.get("more_body"):
                break
        self.requests += 1
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
                break
        if not request_id:
            self.refused += 1
            await _answer(send, 400, {"error": "X-Request-ID is required"})
            return
        if request_id in self.stored:
            self.duplicates += 1
            await _send(send, 409, DUPLICATE, b"application/fhir+json")
            return
        self.stored[request_id] = size
        if self.keeps_bodies:
            self.kept(request_id, b"".join(chunks))
        location = f"{self.base_url}/Bundle/{len(self.stored)}".encode()
        await _send(send, 200, b"", None, [(b"location", location)])


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send: Send, status: int, value: Any) -> None:
    await _send(send, status, json.dumps(value).encode(), b"application/json")


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes | None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *(extra or [])]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(
    argv: Sequence[str] | None = None,
    app: type[Receiver] = Receiver,
    prog: str = "python -m bench.outbox.receiver",
) -> int:
    """Serve `app` on 127.0.0.1:--port until stopped."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    receiver = app(f"http://127.0.0.1:{args.port}/fhir")
    uvicorn.run(
        receiver,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
