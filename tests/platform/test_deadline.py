"""The request timeout and a write's transaction, on both databases: a write whose
transaction has opened is never cut off by the request timeout (it commits, and is
answered as committed), and a request the timeout stops while it waits for a database
slot stores nothing. So a 503 timeout always means "not stored"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import anyio
from sqlalchemy import func, select
from starlette.types import Message, Receive, Scope, Send

from gateway.handovers.store import Submission, SubmissionStore
from gateway.platform.database import Database
from gateway.platform.schema import dataset_submissions
from gateway.platform.transactions import TransactionGate
from gateway.web.middleware import RequestContextMiddleware

TIMEOUT_SECONDS = 0.1


def _submission(n: int) -> Submission:
    return Submission(
        sender_ods="AZZ",
        external_id=f"EPR-{n}",
        kind="handover",
        request_id=None,
        body_sha256="a" * 64,
        service_request_id=f"sr-{n}",
        communication_id=f"c-{n}",
        received_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        gaps=(),
    )


def _writer(
    gate: TransactionGate, n: int, *, work_seconds: float
) -> Callable[..., Awaitable[None]]:
    """An app that writes one row, taking longer than the request timeout to do it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async with gate.write() as connection:
            await anyio.sleep(work_seconds)  # the transaction is open, the write under way
            await anyio.to_thread.run_sync(SubmissionStore(connection).add, _submission(n))
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def _call(app: Callable[..., Awaitable[None]]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/api/handovers", "headers": []}
    await RequestContextMiddleware(app, timeout_seconds=TIMEOUT_SECONDS)(scope, receive, send)
    return sent


def _stored(database: Database) -> int:
    with database.read() as connection:
        return connection.execute(
            select(func.count()).select_from(dataset_submissions)
        ).scalar_one()


def test_a_write_whose_transaction_opened_runs_to_its_commit_and_is_answered_so(
    database: Database,
) -> None:
    async def run() -> list[Message]:
        gate = TransactionGate(database)
        return await _call(_writer(gate, 1, work_seconds=TIMEOUT_SECONDS * 3))

    sent = asyncio.run(run())

    assert sent[0]["status"] == 201
    assert _stored(database) == 1


def test_a_write_stopped_while_waiting_for_a_slot_is_answered_503_and_stores_nothing(
    database: Database,
) -> None:
    async def run() -> list[Message]:
        gate = TransactionGate(database)
        slots = database.write_capacity
        opened, release = anyio.Semaphore(0), anyio.Event()

        async def hold() -> None:
            async with gate.write():
                opened.release()
                await release.wait()

        async with anyio.create_task_group() as tasks:
            # Other requests hold every write slot until this one has been answered.
            for _ in range(slots):
                tasks.start_soon(hold)
            for _ in range(slots):
                await opened.acquire()
            sent = await _call(_writer(gate, 1, work_seconds=0))
            release.set()
        return sent

    sent = asyncio.run(run())

    assert sent[0]["status"] == 503
    assert json.loads(sent[1]["body"])["issue"][0]["code"] == "timeout"
    with database.read() as connection:
        taken = connection.execute(
            select(dataset_submissions.c.external_id).where(
                dataset_submissions.c.external_id == "EPR-1"
            )
        ).all()
    assert taken == []
