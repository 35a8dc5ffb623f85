"""The access log over HTTP, for IG leads: AuditEvent search and read, the patient access
report (subject access requests), checkpoints and RFC 9162 proofs.

Everything here needs the IG scope (system/AuditEvent.rs, never granted by a wildcard),
except the latest checkpoint, which any authenticated client may fetch and keep as a
witness. Every call is itself audited.

An IG lead sees the events their organisation took part in (gateway.access_log.search); the
one registration with `access_log: system-wide` (the operating organisation's IG) sees
every event. An event outside the caller's view is answered as one that does not exist.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy import Connection
from starlette.responses import Response

from core.fhir.dates import format_instant
from core.search.query import CURSOR_PARAMETER
from gateway.access_log import proofs
from gateway.access_log.recording import append_durably, start_trail, success_events, trail_of
from gateway.access_log.report_csv import access_report_csv
from gateway.access_log.search import (
    AuditRow,
    event_by_id,
    events_oldest_first,
    search_events,
)
from gateway.access_log.search_params import (
    encode_cursor,
    parse_audit_query,
    parse_report_query,
    parse_required_size,
    parse_size,
    parse_text,
    self_params,
)
from gateway.auth.authentication import authenticate
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.platform.errors import AuditIntegrityFailed, InsufficientScope, NotFound
from gateway.platform.runtime import Runtime, gate
from gateway.web.deps import FormParams
from gateway.web.http_headers import fhir_base
from gateway.web.responses import fhir_response
from gateway.web.runtime import RuntimeDep

AUDIT_EVENT = "AuditEvent"
T = TypeVar("T")

fhir_router = APIRouter(prefix="/fhir", dependencies=[Depends(start_trail), Depends(authenticate)])
router = APIRouter(prefix="/audit", dependencies=[Depends(start_trail), Depends(authenticate)])


def _requires_ig(interaction: Interaction) -> Callable[[Request], Any]:
    async def check(request: Request) -> None:
        caller: Caller = request.state.caller
        if not caller.may(AUDIT_EVENT, interaction):
            raise InsufficientScope(
                "The access log needs the IG scope: system/AuditEvent."
                f"{interaction.value} (granted only by name, never by a wildcard)."
            )

    return check


_IG_SEARCH = [Depends(_requires_ig(Interaction.SEARCH))]
_IG_READ = [Depends(_requires_ig(Interaction.READ))]


@fhir_router.get("/AuditEvent", dependencies=_IG_SEARCH, name="audit_event_search")
async def audit_event_search(request: Request, runtime: RuntimeDep) -> Response:
    params = request.query_params.multi_items()
    query = parse_audit_query(params, runtime.paging)
    _note_query(request, params, query.patient)
    page = await _checked_read(
        request, partial(search_events, query=query, seen_by=_seen_by(request, runtime))
    )
    base = fhir_base(request, runtime.settings.public_base_url)
    body = _searchset(base, params, page.rows, page.next_before, runtime.clock())
    await _audited(request, runtime)
    return fhir_response(body)


@fhir_router.get("/AuditEvent/{event_id}", dependencies=_IG_READ, name="audit_event_read")
async def audit_event_read(
    request: Request,
    runtime: RuntimeDep,
    event_id: str = Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$"),
) -> Response:
    row = await _event_in_view(request, runtime, event_id)
    trail = trail_of(request)
    if trail is not None:
        trail.refers_to(AUDIT_EVENT, row.event_id, None, row.patient)
    await _audited(request, runtime)
    return fhir_response(row.content.decode())


@router.get("/reports/patient-access", dependencies=_IG_SEARCH, name="patient_access_report")
async def patient_access_report(request: Request, runtime: RuntimeDep) -> Response:
    return await _report(request, runtime, request.query_params.multi_items())


@router.post("/reports/patient-access", dependencies=_IG_SEARCH, name="patient_access_report")
async def patient_access_report_by_post(
    request: Request, runtime: RuntimeDep, form: FormParams
) -> Response:
    # POST keeps the NHS number out of URLs (and so out of proxies' logs).
    return await _report(request, runtime, form)


@router.get("/checkpoints/latest", name="latest_checkpoint")
async def latest_checkpoint(request: Request, runtime: RuntimeDep) -> Response:
    found = await _in_read(runtime, proofs.latest_checkpoint)
    if found is None:
        raise NotFound("No checkpoint has been signed yet.")
    await _audited(request, runtime)
    return _json(found.to_json())


@router.post("/checkpoints", dependencies=_IG_READ, name="make_checkpoint")
async def make_checkpoint(request: Request, runtime: RuntimeDep) -> Response:
    """Sequence everything committed and sign a checkpoint now (if anything is new)."""
    async with gate(runtime).write() as connection:
        while (
            await anyio.to_thread.run_sync(
                partial(runtime.sequencer.run, connection, checkpoint_now=True, wait=True)
            )
        ).sequenced:
            pass
    found = await _in_read(runtime, proofs.latest_checkpoint)
    if found is None:
        raise NotFound("The access log is empty: there is nothing to sign.")
    await _audited(request, runtime)
    return _json(found.to_json())


@router.get("/proofs/inclusion", dependencies=_IG_READ, name="inclusion_proof")
async def inclusion_proof(request: Request, runtime: RuntimeDep) -> Response:
    event_id = parse_text(request.query_params.get("event"), "event")
    tree_size = parse_size(request.query_params.get("tree_size"), "tree_size")
    await _event_in_view(request, runtime, event_id)
    proof = await _in_read(
        runtime, partial(proofs.inclusion_proof, event_id=event_id, tree_size=tree_size)
    )
    await _audited(request, runtime)
    return _json(
        {
            "event": proof.event_id,
            "leaf_index": proof.leaf_index,
            "tree_size": proof.checkpoint.checkpoint.tree_size,
            "leaf_hash": _b64(proof.leaf_hash),
            "inclusion_path": [_b64(node) for node in proof.path],
            "checkpoint": proof.checkpoint.to_json(),
        }
    )


@router.get("/proofs/consistency", dependencies=_IG_READ, name="consistency_proof")
async def consistency_proof(request: Request, runtime: RuntimeDep) -> Response:
    first = parse_required_size(request.query_params.get("first"), "first")
    second = parse_required_size(request.query_params.get("second"), "second")
    proof = await _in_read(runtime, partial(proofs.consistency_proof, first=first, second=second))
    await _audited(request, runtime)
    return _json(
        {
            "first": proof.first.to_json(),
            "second": proof.second.to_json(),
            "consistency_path": [_b64(node) for node in proof.path],
        }
    )


# -- helpers ---------------------------------------------------------------------------


def _seen_by(request: Request, runtime: Runtime) -> str | None:
    """Whose events the caller sees: its organisation's, or (None) every organisation's
    for the system-wide IG lead, as its registration says now (a reload applies at once)."""
    caller: Caller = request.state.caller
    registered = runtime.config.client(caller.client_id)
    if registered is not None and registered.sees_every_organisation:
        return None
    return caller.ods_code


async def _event_in_view(request: Request, runtime: Runtime, event_id: str) -> AuditRow:
    """The event, if the caller's view holds it; else "not found", as for a missing one,
    with the id asked for in the refusal's own event."""
    seen_by = _seen_by(request, runtime)
    row = await _checked_read(request, partial(event_by_id, event_id=event_id, seen_by=seen_by))
    if row is None:
        trail = trail_of(request)
        if trail is not None:
            trail.refers_to(AUDIT_EVENT, event_id, None)
        raise NotFound("No AuditEvent has that id.")
    return row


async def _in_read(runtime: Runtime, work: Callable[[Connection], T]) -> T:
    async with gate(runtime).read() as connection:
        return await anyio.to_thread.run_sync(work, connection)


async def _checked_read(request: Request, work: Callable[[Connection], T]) -> T:
    """A read of events, each checked against its signed bytes: one that fails is
    counted (gateway_audit_integrity_failures_total) as well as logged, for alerting."""
    try:
        return await _in_read(request.app.state.runtime, work)
    except AuditIntegrityFailed:
        request.app.state.metrics.audit_integrity_failures.inc()
        raise


async def _audited(request: Request, runtime: Runtime) -> None:
    """Reads of the log are logged too, durably, before the answer goes out."""
    await append_durably(runtime, success_events(request, runtime))


def _note_query(request: Request, params: list[tuple[str, str]], patient: str | None) -> None:
    """Looking at a person's access history is itself an access to their record."""
    trail = trail_of(request)
    if trail is not None:
        trail.query = urlencode(params).encode()
        trail.concerns(patient)


async def _report(request: Request, runtime: Runtime, params: list[tuple[str, str]]) -> Response:
    report = parse_report_query(params)
    _note_query(request, params, report.query.patient)
    seen_by = _seen_by(request, runtime)

    def collect(connection: Connection) -> list[AuditRow]:
        return list(events_oldest_first(connection, report.query, seen_by=seen_by))

    rows = await _checked_read(request, collect)
    await _audited(request, runtime)
    filename = f"patient-access-report.{report.format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if report.format == "ndjson":
        # The AuditEvents themselves, exactly as the tamper-evident log holds them.
        body = b"".join(row.content + b"\n" for row in rows)
        return Response(body, media_type="application/x-ndjson", headers=headers)
    return Response(
        access_report_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


def _searchset(
    base: str,
    params: list[tuple[str, str]],
    rows: list[AuditRow],
    next_before: tuple[datetime, int] | None,
    searched_at: datetime,
) -> str:
    kept = self_params(params)
    links = [{"relation": "self", "url": _url(base, kept)}]
    if next_before is not None:
        cursor = [(CURSOR_PARAMETER, encode_cursor(next_before))]
        links.append({"relation": "next", "url": _url(base, kept + cursor)})
    header = {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": format_instant(searched_at)},
        "type": "searchset",
        "link": links,
    }
    text = json.dumps(header, separators=(",", ":"))
    if not rows:
        return text
    # The stored canonical bytes are spliced in as they are: what was hashed is served.
    entries = ",".join(
        '{"fullUrl":'
        + json.dumps(f"{base}/AuditEvent/{row.event_id}")
        + ',"resource":'
        + row.content.decode()
        + ',"search":{"mode":"match"}}'
        for row in rows
    )
    return text[:-1] + ',"entry":[' + entries + "]}"


def _url(base: str, params: list[tuple[str, str]]) -> str:
    query = urlencode(params)
    return f"{base}/AuditEvent" + (f"?{query}" if query else "")


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()
