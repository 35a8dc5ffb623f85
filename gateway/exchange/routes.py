"""GET /api/deliveries: where each delivery the caller's organisation sent is.

    GET /api/deliveries?state=retrying&destination=RZZ&service_request=<id>&_count=50

States: queued, in-flight, retrying (with the next attempt's time and the last error),
delivered (with the receiver's reference and when), dead (dead-lettered: the last error),
stopped (consent or an agreement said no at send time: the rule). Newest last.

Each delivery carries a ServiceRequest (and what came with it) to a Trust, so listing
them is a search over the caller's requests: it needs system/ServiceRequest.s. An
operator client (or the system-wide IG lead) sees every organisation's deliveries; any
other, its own organisation's.
Every call is an AuditEvent (a search, naming each listed delivery's ServiceRequest,
one event per person), refusals included.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from core.fhir.dates import format_instant
from gateway.access_log.recording import append_durably, start_trail, success_events, trail_of
from gateway.auth.authentication import authenticate
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.exchange.deliveries import STATES, Delivery, DeliveryState
from gateway.exchange.status import deliveries_sent
from gateway.platform.errors import BadRequest, InsufficientScope
from gateway.platform.runtime import gate
from gateway.web.runtime import RuntimeDep

router = APIRouter(prefix="/api", dependencies=[Depends(start_trail), Depends(authenticate)])

_MAX_COUNT = 500
# A delivery is the sending of a ServiceRequest: listing deliveries searches those.
SCOPE_TYPE = "ServiceRequest"


async def _may_list(request: Request) -> None:
    caller: Caller = request.state.caller
    if not caller.may(SCOPE_TYPE, Interaction.SEARCH):
        raise InsufficientScope(
            "Listing deliveries needs the scope system/ServiceRequest.s: each delivery "
            "carries a ServiceRequest."
        )


@router.get("/deliveries", dependencies=[Depends(_may_list)], name="deliveries")
async def deliveries(request: Request, runtime: RuntimeDep) -> JSONResponse:
    caller: Caller = request.state.caller
    params = request.query_params
    trail = trail_of(request)
    if trail is not None:
        trail.query = urlencode(params.multi_items()).encode()
    states = tuple(params.getlist("state"))
    unknown = [state for state in states if state not in STATES]
    if unknown:
        raise BadRequest(f"state takes: {', '.join(STATES)}.", expression="state")
    count = params.get("_count", "100")
    if not count.isascii() or not count.isdigit() or not 1 <= int(count) <= _MAX_COUNT:
        raise BadRequest(
            f"_count takes a whole number from 1 to {_MAX_COUNT}.", expression="_count"
        )
    # Operators (and the system-wide IG lead, given the scope) see every sender's.
    every = runtime.config.sees_every_organisation(caller.client_id)
    async with gate(runtime).read() as connection:
        found = deliveries_sent(
            connection,
            states=states,
            destination=params.get("destination"),
            sender=None if every else caller.ods_code,
            service_request=params.get("service_request"),
            limit=int(count),
        )
    if trail is not None:
        for delivery in found:
            trail.refers_to(SCOPE_TYPE, delivery.service_request_id, None, delivery.patient)
    await append_durably(runtime, success_events(request, runtime))
    return JSONResponse({"deliveries": [delivery_status(d) for d in found]})


def delivery_status(delivery: Delivery) -> dict[str, Any]:
    """A delivery as its sender sees it: no body, no patient."""
    status: dict[str, Any] = {
        "id": delivery.id,
        "destination": delivery.destination,
        "kind": delivery.kind,
        "service_request": f"ServiceRequest/{delivery.service_request_id}",
        "state": delivery.state,
        "attempts": delivery.attempts,
        "queued_at": format_instant(delivery.created_at, fixed_width=False),
    }
    if delivery.state == DeliveryState.RETRYING:
        status["next_attempt_at"] = format_instant(delivery.next_attempt_at, fixed_width=False)
    if delivery.last_error:
        status["last_error"] = delivery.last_error
    if delivery.receiver_reference:
        status["receiver_reference"] = delivery.receiver_reference
    if delivery.finished_at is not None:
        status["finished_at"] = format_instant(delivery.finished_at, fixed_width=False)
    return status
