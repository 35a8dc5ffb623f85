"""FHIR operations for handovers: `$process-message` for FHIR-native senders, and the
decision-ready `$summary` of a handover or escalation for Trust crisis systems.

    POST /fhir/$process-message                 a BaRS referral message Bundle
    GET  /fhir/Communication/{id}/$summary      JSON (the dataset) or text/html
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.responses import Response

from core.handover.messages import response_message
from core.handover.summary_json import summary_json
from core.handover.summary_page import summary_html
from core.handover.summary_style import HEADER_CSP
from gateway.access_log.recording import start_trail
from gateway.auth.authentication import authenticate
from gateway.handovers.routes import served_body
from gateway.handovers.summaries import summary_context
from gateway.platform.clock import new_id
from gateway.platform.errors import NotAcceptable
from gateway.web.deps import RawJsonBody, ReadSummaries, WriteDatasets
from gateway.web.http_headers import fhir_base
from gateway.web.responses import fhir_response
from gateway.web.runtime import RuntimeDep

router = APIRouter(prefix="/fhir", dependencies=[Depends(start_trail), Depends(authenticate)])

_ID = Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")
# An HTML page of patient data must not be kept by shared caches or framed elsewhere. Its
# policy replaces the strict default (which would block its stylesheet) with one that
# allows exactly that stylesheet, by hash, and still denies everything else.
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": HEADER_CSP,
}


@router.post("/$process-message", name="process_message")
def process_message(
    request: Request, body: RawJsonBody, runtime: RuntimeDep, datasets: WriteDatasets
) -> Response:
    message, received = datasets.receive_message(
        body.value, body.raw, request_id=request.headers.get("x-request-id")
    )
    resources = received.resources
    answer = response_message(
        message,
        bundle_id=new_id(),
        header_id=new_id(),
        gateway_url=fhir_base(request, runtime.settings.public_base_url),
        sender_ods=received.submission.sender_ods,
        now=runtime.clock(),
        focus=[
            f"ServiceRequest/{resources.service_request['id']}",
            f"Communication/{resources.communication['id']}",
        ],
    )
    return fhir_response(answer, 200)


@router.get("/Communication/{communication_id}/$summary", name="communication_summary")
def summary(
    request: Request,
    runtime: RuntimeDep,
    reading: ReadSummaries,
    communication_id: str = _ID,
) -> Response:
    wants_html = _wants_html(request)
    datasets = reading.datasets
    served, service_request_id = datasets.summary(communication_id)
    steps, _ = datasets.escalation_steps(service_request_id)
    context = summary_context(
        served,
        communication_id,
        service_request_id,
        runtime.config,
        runtime.clock(),
        steps,
        safeguarding=reading.picture.of(served.dataset.patient.nhs_number),
    )
    if not wants_html:
        # The dataset API's answer, and what the page shows besides the dataset.
        body = served_body(request, runtime, service_request_id, served)
        body.update(summary_json(served.dataset, context))
        return JSONResponse(body, headers={"Cache-Control": "no-store"})
    return HTMLResponse(summary_html(served.dataset, context), headers=_PAGE_HEADERS)


def _wants_html(request: Request) -> bool:
    """`_format=html|json`, else the Accept header; JSON unless HTML is asked for."""
    chosen = request.query_params.get("_format")
    if chosen is not None:
        if chosen not in ("html", "text/html", "json", "application/json"):
            raise NotAcceptable("_format takes html or json.")
        return "html" in chosen
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split("text/html")[0]
