"""A Trust's notification receiver for end-to-end tests: a real FastAPI app served by
uvicorn on loopback that records every request made to it (method, path, headers,
body) and answers each with the status it is told to."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

from tests.servers import free_port


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    status: int = 200
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["POST", "PUT"])
        async def notified(request: Request, path: str) -> Response:
            body = await request.body()
            with self.lock:
                self.received.append(
                    Received(request.method, f"/{path}", dict(request.headers), body)
                )
            return Response(status_code=self.status)

        return app

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@contextmanager
def running_receiver(status: int = 200) -> Iterator[Receiver]:
    receiver = Receiver(status)
    port = free_port()
    receiver.base_url = f"http://127.0.0.1:{port}/fhir"
    server = uvicorn.Server(
        uvicorn.Config(receiver.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test receiver did not start")
        time.sleep(0.02)
    try:
        yield receiver
    finally:
        server.should_exit = True
        thread.join(timeout=10)
