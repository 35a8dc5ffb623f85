"""GET /api/deliveries: where each delivery the caller's organisation sent is.

    GET /api/deliveries?state=retrying&destination=RZZ&service_request=<id>&_count=50

States: queued, in-flight, retrying (with the next attempt's time and the last error),
delivered (with the receiver's reference and when), dead (dead-lettered: the last error),
stopped (consent or an agreement said no at send time: the rule). Newest last.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway.api.authentication import authenticate
from gateway.api.runtime import RuntimeDep, gate
from gateway.auth.caller import Caller
from gateway.errors import BadRequest
from gateway.store.outbox import STATES, Delivery, OutboxStore

router = APIRouter(prefix="/api", dependencies=[Depends(authenticate)])

_MAX_COUNT = 500


@router.get("/deliveries", name="deliveries")
async def deliveries(request: Request, runtime: RuntimeDep) -> JSONResponse:
    caller: Caller = request.state.caller
    params = request.query_params
    states = tuple(params.getlist("state"))
    unknown = [state for state in states if state not in STATES]
    if unknown:
        raise BadRequest(f"state takes: {', '.join(STATES)}.", expression="state")
    count = params.get("_count", "100")
    if not count.isascii() or not count.isdigit() or not 1 <= int(count) <= _MAX_COUNT:
        raise BadRequest(
            f"_count takes a whole number from 1 to {_MAX_COUNT}.", expression="_count"
        )
    async with gate(runtime).read() as connection:
        found = OutboxStore(connection).listed(
            states=states,
            destination=params.get("destination"),
            sender=caller.ods_code,
            service_request=params.get("service_request"),
            limit=int(count),
        )
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
        "queued_at": _instant(delivery.created_at),
    }
    if delivery.state == "retrying":
        status["next_attempt_at"] = _instant(delivery.next_attempt_at)
    if delivery.last_error:
        status["last_error"] = delivery.last_error
    if delivery.receiver_reference:
        status["receiver_reference"] = delivery.receiver_reference
    if delivery.finished_at is not None:
        status["finished_at"] = _instant(delivery.finished_at)
    return status


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
