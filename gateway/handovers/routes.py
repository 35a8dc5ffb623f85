"""The dataset API at /api: handovers and escalation summaries as plain JSON.

    POST /api/handovers, POST /api/escalations       201, or an OperationOutcome
    GET  /api/handovers/{id}, GET /api/escalations/{id}
    POST /api/escalations/{id}/responses            a receiver's response to an escalation
    GET  /api/escalations/{id}/timeline             every step of the escalation, in order
    GET  /api/interface-delays                      steps not answered by their deadline
    GET  /api/decline-reasons                       the configured decline codes

`{id}` is the id of the ServiceRequest made from the dataset. Every answer about one
dataset has the same shape (see `_envelope`), so an integrator parses one thing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from core.fhir.dates import format_instant
from core.fhir.issues import Issue, IssueCode
from core.handover.dataset import EscalationResponse, Pathway
from core.handover.dataset_input import dataset_issues
from core.handover.summary_json import ladder_json
from core.safeguarding.picture import picture_json
from gateway.access_log.recording import start_trail
from gateway.auth.authentication import authenticate
from gateway.configuration.pathways import DECLINE_REASON_SYSTEM
from gateway.exchange.routes import delivery_status
from gateway.handovers.service import Received, Served
from gateway.handovers.timeline import delay_json, timeline
from gateway.platform.errors import InvalidContent
from gateway.web.deps import (
    JsonBody,
    RawJsonBody,
    ReadDatasets,
    ReadSummaries,
    RespondToEscalations,
    WriteDatasets,
)
from gateway.web.http_headers import fhir_base
from gateway.web.request_bodies import ESCALATION, ESCALATION_RESPONSE, HANDOVER
from gateway.web.runtime import RuntimeDep

router = APIRouter(prefix="/api", dependencies=[Depends(start_trail), Depends(authenticate)])
open_router = APIRouter(prefix="/api", dependencies=[Depends(authenticate)])

DatasetId = Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")
_PATHS = {"handover": "handovers", "escalation": "escalations"}


@router.post("/handovers", status_code=201, name="handover_push", openapi_extra=HANDOVER)
def push_handover(
    request: Request, body: RawJsonBody, runtime: RuntimeDep, datasets: WriteDatasets
) -> JSONResponse:
    received = datasets.receive_json(
        body.value, body.raw, kind="handover", request_id=_sent_request_id(request)
    )
    return _created(request, runtime, received)


@router.post("/escalations", status_code=201, name="escalation_push", openapi_extra=ESCALATION)
def push_escalation(
    request: Request, body: RawJsonBody, runtime: RuntimeDep, datasets: WriteDatasets
) -> JSONResponse:
    received = datasets.receive_json(
        body.value, body.raw, kind="escalation", request_id=_sent_request_id(request)
    )
    return _created(request, runtime, received)


@router.get("/handovers/{dataset_id}", name="handover_read")
def read_handover(
    request: Request, runtime: RuntimeDep, reading: ReadSummaries, dataset_id: str = DatasetId
) -> JSONResponse:
    return JSONResponse(_with_picture(request, runtime, reading, dataset_id, "handover"))


@router.get("/escalations/{dataset_id}", name="escalation_read")
def read_escalation(
    request: Request, runtime: RuntimeDep, reading: ReadSummaries, dataset_id: str = DatasetId
) -> JSONResponse:
    return JSONResponse(_with_picture(request, runtime, reading, dataset_id, "escalation"))


def _with_picture(
    request: Request, runtime: RuntimeDep, reading: ReadSummaries, dataset_id: str, kind: str
) -> dict[str, Any]:
    """The dataset, and the person's open safeguarding actions and restrictions in force
    as the caller may see them, so a crisis team knows them when deciding."""
    served = reading.datasets.dataset(dataset_id, kind=kind)
    body = served_body(request, runtime, dataset_id, served)
    body["safeguarding"] = picture_json(reading.picture.of(served.dataset.patient.nhs_number))
    return body


@router.post(
    "/escalations/{dataset_id}/responses",
    name="escalation_response",
    openapi_extra=ESCALATION_RESPONSE,
)
def record_response(
    request: Request,
    body: JsonBody,
    runtime: RuntimeDep,
    responses: RespondToEscalations,
    dataset_id: str = DatasetId,
) -> JSONResponse:
    """The caller's answer, stored as its own Communication in response to the
    escalation's summary; the gateway marks the escalation answered."""
    try:
        response = EscalationResponse.model_validate(body)
    except ValidationError as error:
        issues = dataset_issues(error, part=EscalationResponse, prefix="escalation.response")
        raise InvalidContent(issues) from None
    served = responses.respond(dataset_id, response)
    return JSONResponse(served_body(request, runtime, dataset_id, served))


@router.get("/escalations/{dataset_id}/timeline", name="escalation_timeline")
def escalation_timeline(datasets: ReadDatasets, dataset_id: str = DatasetId) -> JSONResponse:
    """Every step of the escalation, in order, with its deadline and what came of it."""
    return JSONResponse(timeline(datasets, dataset_id))


@router.get("/interface-delays", name="interface_delays")
def interface_delays(
    request: Request,
    runtime: RuntimeDep,
    datasets: ReadDatasets,
    receiver: str | None = Query(default=None, pattern=r"^[A-Z0-9]{3,10}$"),
    pathway: Pathway | None = None,
    since: datetime | None = None,
) -> JSONResponse:
    """Escalation steps whose deadline passed with no response, between the caller's
    organisation and others, newest first (at most 100): no patient data."""
    if since is not None and since.utcoffset() is None:
        raise InvalidContent(
            [Issue(IssueCode.VALUE, "since must carry its offset (Z or +01:00).", "since")]
        )
    caller = request.state.caller
    every = runtime.config.sees_every_organisation(caller.client_id)
    found = datasets.interface_delays(
        receiver=receiver, pathway=pathway, since=since, every_organisation=every
    )
    return JSONResponse({"delays": [delay_json(delay) for delay in found]})


@open_router.get("/decline-reasons", name="decline_reasons")
def decline_reasons(runtime: RuntimeDep) -> JSONResponse:
    """The codes receivers give when they decline a handover, so that bounce themes can be
    counted: configured per deployment (pathways.yaml), in a CodeSystem the gateway owns."""
    reasons = runtime.config.pathways.decline_reasons
    return JSONResponse(
        {
            "system": DECLINE_REASON_SYSTEM,
            "concept": [{"code": reason.code, "display": reason.display} for reason in reasons],
        }
    )


def _sent_request_id(request: Request) -> str | None:
    # Only an id the sender chose identifies a retry; one the gateway made up does not.
    return request.headers.get("x-request-id")


def _created(request: Request, runtime: RuntimeDep, received: Received) -> JSONResponse:
    submission = received.submission
    resources = received.resources
    body = _envelope(request, runtime, submission.service_request_id, _PATHS[submission.kind])
    body["kind"] = submission.kind
    body["resources"] = {
        "ServiceRequest": f"ServiceRequest/{resources.service_request['id']}",
        "Flag": [f"Flag/{flag['id']}" for flag in resources.flags],
        "Communication": f"Communication/{resources.communication['id']}",
        "Provenance": f"Provenance/{resources.provenance['id']}",
    }
    body["received_at"] = format_instant(submission.received_at, fixed_width=False)
    if received.repeats is not None and received.review is not None:
        count, within_days = received.repeats
        body["repeat"] = {
            "escalations": count,
            "within_days": within_days,
            "review": received.review.id,
        }
    body["completeness"] = {
        "complete": received.completeness.complete,
        "warnings": [
            {"field": gap.field, "message": gap.message} for gap in received.completeness.warnings
        ],
    }
    # Warnings that are not the checklist's, in the same shape: a respond-by already past.
    overdue = received.overdue
    body["overdue"] = overdue is not None
    body["warnings"] = (
        [{"field": overdue.expression, "message": overdue.diagnostics}] if overdue else []
    )
    return JSONResponse(body, status_code=201, headers={"Location": body["location"]})


def served_body(
    request: Request, runtime: RuntimeDep, dataset_id: str, served: Served
) -> dict[str, Any]:
    """A stored dataset, rebuilt from its FHIR resources, in the dataset API's shape."""
    body = _envelope(request, runtime, dataset_id, _PATHS[served.dataset.dataset])
    submission = served.submission
    body["kind"] = served.dataset.dataset
    if submission is not None:
        body["received_at"] = format_instant(submission.received_at, fixed_width=False)
        # As the stored ServiceRequest carries them, which is what a Trust pulling sees.
        body["completeness"] = {"complete": not served.gaps, "missing": list(served.gaps)}
    body["overdue"] = served.overdue_on_receipt
    if served.deliveries:
        body["deliveries"] = [delivery_status(delivery) for delivery in served.deliveries]
    if served.withheld:
        # An agreement withholds free text from this organisation: what is shown is partial.
        body["withheld"] = ["free-text"]
    # The receivers' answers: each Task accepting or declining it, each response.
    body["decisions"] = [decision.as_json() for decision in served.answers.decisions]
    body["responses"] = [response.as_json() for response in served.answers.responses]
    if served.ladder is not None:
        body["ladder"] = ladder_json(served.ladder)
    body["dataset"] = served.dataset.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
    )
    return body


def _envelope(request: Request, runtime: RuntimeDep, dataset_id: str, path: str) -> dict[str, Any]:
    base = fhir_base(request, runtime.settings.public_base_url).removesuffix("/fhir")
    return {"id": dataset_id, "location": f"{base}/api/{path}/{dataset_id}"}
