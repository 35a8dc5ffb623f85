"""The restrictions API (gateway.safeguarding.restrictions): record, review and read
restrictions on a person. Every read and write is in the person's access history."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from core.safeguarding.restrictions import Restriction
from gateway.access_log.recording import start_trail
from gateway.auth.authentication import authenticate
from gateway.safeguarding.restrictions import RestrictionService
from gateway.web.deps import JsonBody, ReadRestrictions, WriteRestrictions

router = APIRouter(prefix="/api", dependencies=[Depends(start_trail), Depends(authenticate)])
RestrictionId = Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")


@router.post("/restrictions", name="restriction_create", status_code=201)
def create(body: JsonBody, restrictions: WriteRestrictions) -> JSONResponse:
    """Record a restriction; the caller's organisation is its author."""
    made = restrictions.create(body)
    return JSONResponse(
        _shown(restrictions, made, 1),
        status_code=201,
        headers={"Location": f"/api/restrictions/{made.id}"},
    )


@router.post("/restrictions/{restriction_id}/reviews", name="restriction_review")
def review(
    body: JsonBody, restrictions: WriteRestrictions, restriction_id: str = RestrictionId
) -> JSONResponse:
    """Record a review: continue, step down or end. The author only."""
    after, version = restrictions.review(restriction_id, body)
    return JSONResponse(_shown(restrictions, after, version))


@router.get("/restrictions/{restriction_id}", name="restriction")
def read(restrictions: ReadRestrictions, restriction_id: str = RestrictionId) -> JSONResponse:
    found, version = restrictions.get(restriction_id)
    return JSONResponse(_shown(restrictions, found, version))


@router.get("/restrictions", name="restrictions")
def search(
    request: Request,
    restrictions: ReadRestrictions,
    person: str | None = Query(default=None, max_length=10),
    state: str | None = Query(default=None, max_length=32),
    longer_than: str | None = Query(default=None, max_length=16),
) -> JSONResponse:
    """The restrictions the caller's organisation authored or is shared, newest first
    (at most 100): by person (NHS number), state, and in force longer than a duration."""
    found = restrictions.search(person=person, state=state, longer_than=longer_than)
    return JSONResponse(
        {"restrictions": [_shown(restrictions, item, version) for item, version in found]}
    )


def _shown(
    service: RestrictionService, restriction: Restriction, version: int
) -> dict[str, object]:
    """The record as stored, with what is derived from it: its state now, the FHIR
    version it is (the Flag's history holds one version per review), and each ladder
    level its review was found overdue at, if any."""
    shown: dict[str, object] = {
        **restriction.as_json(),
        "state": service.state_of(restriction),
        "fhir": f"Flag/{restriction.id}/_history/{version}",
    }
    escalation = service.escalation(restriction.id)
    if escalation:
        shown["review_escalation"] = escalation
    return shown
