"""A small Trust system for end-to-end tests: a real FastAPI app served by uvicorn on
loopback that takes BaRS referral messages, keeps what it stored (by X-Request-ID, so a
repeat is answered 409 duplicate, as BaRS asks), and can be told to fail the first N
requests, answer 503 with Retry-After, or hold its answer after storing. It also takes
FHIR transactions of PUTs at its base, keeping each resource by Type/id."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.servers import free_port


@dataclass
class TrustBehaviour:
    fail_first: int = 0  # answer the first N requests 503
    retry_after: str | None = None  # ... with this Retry-After
    hold_seconds: float = 0.0  # after storing, wait this long before answering
    # Answer the first N requests 502 with an HTML page quoting the request body, as a
    # broken proxy in front of a Trust might.
    garbage_first: int = 0


@dataclass
class TrustSystem:
    behaviour: TrustBehaviour = field(default_factory=TrustBehaviour)
    stored: dict[str, bytes] = field(default_factory=dict)  # X-Request-ID -> body
    # Transactions: each resource by Type/id, with how many versions it has.
    resources: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/fhir/$process-message")
        async def process_message(request: Request) -> Response:
            body = await request.body()
            request_id = request.headers.get("x-request-id", "")
            with self.lock:
                self.requests += 1
                garbage = self.requests <= self.behaviour.garbage_first
                failing = self.requests <= self.behaviour.fail_first
                duplicate = request_id in self.stored
                if not failing and not duplicate and not garbage:
                    self.stored[request_id] = body
            if garbage:
                page = b"<html><body>Bad gateway for " + body + b"</body></html>"
                return Response(page, status_code=502, media_type="text/html")
            if failing:
                headers = (
                    {"Retry-After": self.behaviour.retry_after}
                    if self.behaviour.retry_after
                    else {}
                )
                return Response(status_code=503, headers=headers)
            if duplicate:
                return JSONResponse(
                    {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "duplicate"}],
                    },
                    status_code=409,
                )
            if self.behaviour.hold_seconds:
                time.sleep(self.behaviour.hold_seconds)
            return Response(
                status_code=200, headers={"Location": f"{self.base_url}/Bundle/{len(self.stored)}"}
            )

        @app.post("/fhir")
        async def transaction(request: Request) -> Response:
            bundle = await request.json()
            with self.lock:
                self.requests += 1
                if self.requests <= self.behaviour.fail_first:
                    return Response(status_code=503)
                answers = []
                for entry in bundle["entry"]:
                    assert entry["request"]["method"] == "PUT"
                    key = entry["request"]["url"]
                    self.resources[key] = self.resources.get(key, 0) + 1
                    answers.append(
                        {
                            "response": {
                                "status": "201 Created" if self.resources[key] == 1 else "200 OK",
                                "location": f"{key}/_history/{self.resources[key]}",
                            }
                        }
                    )
            return JSONResponse(
                {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}
            )

        return app


@contextmanager
def running_trust(behaviour: TrustBehaviour | None = None) -> Iterator[TrustSystem]:
    trust = TrustSystem(behaviour or TrustBehaviour())
    port = free_port()
    trust.base_url = f"http://127.0.0.1:{port}/fhir"
    server = uvicorn.Server(
        uvicorn.Config(trust.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test Trust did not start")
        time.sleep(0.02)
    try:
        yield trust
    finally:
        server.should_exit = True
        thread.join(timeout=10)
