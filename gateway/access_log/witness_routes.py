"""Being a witness for other parties' access logs, after C2SP tlog-witness.

`POST /audit/witness` takes an add-checkpoint request (gateway.access_log.witness_protocol)
and answers the cosignature; `GET /audit/witness?origin=...` answers the newest
checkpoint held for that log, as its signed note, for `gateway audit verify --witness`
on the log's side. Both need the bearer token this gateway gave that log's operator
(audit-log.yaml `witnessing`, which holds its SHA-256 only); an unknown origin is
answered as a wrong token is, so the route does not tell strangers whose logs it holds.
A checkpoint is kept only if that log's published key signed it.

These calls carry no patient data and name no organisation's events: they are logged
as lines (structlog), not as AuditEvents.
"""

from __future__ import annotations

from functools import partial

import anyio.to_thread
from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.access_log.witness_protocol import (
    MAX_REQUEST_BYTES,
    AddCheckpoint,
    WitnessRequestError,
    cosign,
)
from gateway.access_log.witness_store import add_checkpoint, held_checkpoint
from gateway.configuration.audit_log import WitnessedLog
from gateway.platform.errors import BadRequest, NotFound, Unauthorized
from gateway.platform.logging import get_logger
from gateway.platform.runtime import gate
from gateway.web.deps import read_limited
from gateway.web.runtime import RuntimeDep

log = get_logger(__name__)
router = APIRouter(prefix="/audit")

_TEXT = "text/plain; charset=utf-8"


def _bearer_token(request: Request) -> str:
    """The request's bearer token: asked before the body is read, so an anonymous caller
    learns nothing about what the witness would make of it."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _refused()
    return token


def _refused() -> Unauthorized:
    log.warning("audit.witness_refused", reason="token")
    return Unauthorized("A witness request needs the bearer token agreed for that log.", error=None)


def _authorised(request: Request, runtime: RuntimeDep, origin: str) -> WitnessedLog:
    token = _bearer_token(request)
    witnessed = runtime.config.audit_log.witnessed_log(origin)
    if witnessed is None or not witnessed.accepts_token(token):
        raise _refused()
    return witnessed


@router.post("/witness", name="audit_witness_add")
async def add(request: Request, runtime: RuntimeDep) -> Response:
    _bearer_token(request)
    body = await read_limited(request, MAX_REQUEST_BYTES)
    try:
        added = AddCheckpoint.parse(body)
    except WitnessRequestError as error:
        raise BadRequest(f"Not an add-checkpoint request: {error}.") from None
    witnessed = _authorised(request, runtime, added.checkpoint.checkpoint.origin)
    now = runtime.clock()
    async with gate(runtime).write() as connection:
        kept = await anyio.to_thread.run_sync(
            partial(add_checkpoint, connection, witnessed, added, now)
        )
    key = runtime.audit_key
    cosignature = cosign(kept.checkpoint, key.name, key.public_key, key.sign, now)
    log.info(
        "audit.witnessed",
        origin=witnessed.origin,
        tree_size=kept.checkpoint.tree_size,
    )
    return Response(cosignature, media_type=_TEXT)


@router.get("/witness", name="audit_witness_held")
async def held(request: Request, runtime: RuntimeDep, origin: str | None = None) -> Response:
    _bearer_token(request)
    if not origin:
        raise BadRequest("Name the log whose checkpoint is asked for: ?origin=...")
    witnessed = _authorised(request, runtime, origin)
    async with gate(runtime).read() as connection:
        checkpoint = await anyio.to_thread.run_sync(held_checkpoint, connection, witnessed.origin)
    if checkpoint is None:
        raise NotFound("No checkpoint of that log is held yet.")
    return Response(checkpoint.note(), media_type=_TEXT)
