"""GET /api/reviews and POST /api/reviews/{id}/close: the manager reviews opened for the
caller's organisation when its escalations about one person repeat
(gateway.handovers.reviews). Each review read is in its person's access history."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from core.fhir.issues import Issue, IssueCode
from gateway.access_log.recording import start_trail, trail_of
from gateway.auth.authentication import authenticate
from gateway.handovers.reviews import Closing
from gateway.platform.errors import InvalidContent
from gateway.web.deps import JsonBody, ReadReviews, WriteReviews
from gateway.web.runtime import RuntimeDep

router = APIRouter(prefix="/api", dependencies=[Depends(start_trail), Depends(authenticate)])
ReviewId = Path(pattern=r"^[A-Za-z0-9\-]{1,64}$")


@router.get("/reviews", name="reviews")
def reviews(
    request: Request, reviews: ReadReviews, state: Literal["open", "closed"] | None = None
) -> JSONResponse:
    """The caller's organisation's reviews, newest first (at most 100)."""
    found = reviews.of(request.state.caller.ods_code, state)
    trail = trail_of(request)
    for review in found:
        if trail is not None:
            trail.concerns(review.patient)
    return JSONResponse({"reviews": [review.as_json() for review in found]})


@router.post("/reviews/{review_id}/close", name="review_close")
def close_review(
    request: Request,
    body: JsonBody,
    runtime: RuntimeDep,
    reviews: WriteReviews,
    review_id: str = ReviewId,
) -> JSONResponse:
    """Record the review's finding and plan change; only the sender's own, only once."""
    try:
        closing = Closing.model_validate(body)
    except ValidationError as error:
        issues = [
            Issue(
                IssueCode.VALUE if problem["type"] != "missing" else IssueCode.REQUIRED,
                _message(problem["type"], ".".join(str(p) for p in problem["loc"])),
                ".".join(str(p) for p in problem["loc"]) or "body",
            )
            for problem in error.errors(include_input=False, include_url=False)
        ]
        raise InvalidContent(issues) from None
    caller = request.state.caller
    closed = reviews.close(review_id, caller.ods_code, closing, runtime.clock(), caller.client_id)
    trail = trail_of(request)
    if trail is not None:
        trail.concerns(closed.patient)
    return JSONResponse(closed.as_json())


def _message(kind: str, where: str) -> str:
    """What is wrong, never echoing what was sent."""
    if kind == "missing":
        return f"{where} is required."
    if where == "finding":
        return "finding must be one of delay-internal, interface-related, neither."
    if kind == "extra_forbidden":
        return f"{where} is not a field of a review's closing (finding, detail, plan_change)."
    return f"{where} must be text of 1 to 4000 characters."
