"""The safeguarding action tracker's API (gateway.safeguarding.service does the work):

    POST /api/safeguarding/actions                   raise an action (the caller is its requester)
    POST /api/safeguarding/actions/{id}/status       move it on (owner) or cancel it (requester)
    POST /api/safeguarding/actions/{id}/contacts     record a partner contact against it
    GET  /api/safeguarding/actions?owner=&person=&state=open|overdue|completed&limit=
    GET  /api/safeguarding/huddle?week=YYYY-Www[&format=html]   the weekly huddle
    GET  /api/safeguarding/delays?since=              overdue work: each ladder level missed

Every read and write is in the access log, as every FHIR interaction is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from core.fhir.identifiers import is_valid_nhs_number, is_valid_ods_code
from core.fhir.issues import ContentError, Issue, IssueCode
from core.safeguarding.huddle import HEADER_CSP, huddle_html, huddle_json, iso_week, week_of
from gateway.access_log.recording import start_trail
from gateway.auth.authentication import authenticate
from gateway.platform.errors import InvalidContent, NotAcceptable
from gateway.web.deps import JsonBody, ReadSafeguarding, WriteSafeguarding
from gateway.web.runtime import RuntimeDep

router = APIRouter(
    prefix="/api/safeguarding", dependencies=[Depends(start_trail), Depends(authenticate)]
)
ActionId = Path(pattern=r"^[A-Za-z0-9\-.]{1,64}$")
MAX_LIMIT = 100
# A page of patient data must not be cached or framed; its policy allows its one
# stylesheet by hash and nothing else (as the crisis summary page's).
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": HEADER_CSP,
}


@router.post("/actions", name="safeguarding_actions_raise")
def raise_action(body: JsonBody, actions: WriteSafeguarding) -> JSONResponse:
    """Raise an action: 201 with the action as the tracker shows it."""
    raised = actions.raise_action(body)
    return JSONResponse(
        raised.as_json(), status_code=201, headers={"Location": f"/fhir/{raised.as_json()['task']}"}
    )


@router.post("/actions/{action_id}/status", name="safeguarding_action_status")
def move_action(
    body: JsonBody, actions: WriteSafeguarding, action_id: str = ActionId
) -> JSONResponse:
    return JSONResponse(actions.move(action_id, body).as_json())


@router.post("/actions/{action_id}/contacts", name="safeguarding_action_contacts")
def record_contact(
    body: JsonBody, actions: WriteSafeguarding, action_id: str = ActionId
) -> JSONResponse:
    return JSONResponse(actions.record_contact(action_id, body).as_json(), status_code=201)


@router.get("/actions", name="safeguarding_actions")
def find_actions(
    actions: ReadSafeguarding,
    owner: str | None = None,
    person: str | None = None,
    state: Literal["open", "overdue", "completed"] | None = None,
    limit: int = Query(default=MAX_LIMIT, ge=1, le=MAX_LIMIT),
) -> JSONResponse:
    """The caller's actions (as owner or requester), soonest deadline first, at most
    `limit` (100): `truncated` says when there may be more."""
    if owner is not None and not is_valid_ods_code(owner):
        raise _invalid("owner must be an ODS code.", "owner")
    if person is not None and not is_valid_nhs_number(person):
        raise _invalid("person must be an NHS number (10 digits, Modulus 11).", "person")
    found = actions.find(owner=owner, patient=person, state=state, limit=limit)
    return JSONResponse(
        {"actions": [view.as_json() for view in found], "truncated": len(found) >= limit}
    )


@router.get("/delays", name="safeguarding_delays")
def delays(
    request: Request, runtime: RuntimeDep, actions: ReadSafeguarding, since: datetime | None = None
) -> JSONResponse:
    """The interface delays of safeguarding work (an action not completed, a restriction
    not reviewed, by its deadline): each level of the owner's ladder missed, newest first
    (at most 100), between the caller's organisation and others; no patient data."""
    if since is not None and since.utcoffset() is None:
        raise _invalid("since must carry its offset (Z or +01:00).", "since")
    every = runtime.config.sees_every_organisation(request.state.caller.client_id)
    return JSONResponse({"delays": actions.delays(since=since, every_organisation=every)})


@router.get("/huddle", name="safeguarding_huddle")
def huddle(
    request: Request,
    runtime: RuntimeDep,
    actions: ReadSafeguarding,
    week: str | None = None,
    format: str | None = None,
) -> Response:
    """The caller's organisation's week: open, overdue, completed in it, partner contacts;
    JSON, or the printable page (`format=html` or `Accept: text/html`)."""
    wants_html = _wants_html(request, format)
    try:
        chosen = iso_week(week or week_of(runtime.clock()))
    except ContentError as error:
        raise InvalidContent(error.issues, business_rule=True) from None
    views, contacts, now = actions.week(chosen.start, chosen.end)
    body = huddle_json(
        chosen,
        request.state.caller.ods_code,
        [view.as_json() for view in views],
        [contact.as_json() for contact in contacts],
        as_of=min(now, chosen.end),
    )
    if not wants_html:
        return JSONResponse(body)
    names = {o.ods: o.name for o in runtime.config.directory.organisations}
    return HTMLResponse(huddle_html(body, names), headers=_PAGE_HEADERS)


def _wants_html(request: Request, chosen: str | None) -> bool:
    if chosen is not None:
        if chosen not in ("html", "json"):
            raise NotAcceptable("format takes html or json.")
        return chosen == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "json" not in accept.split("text/html")[0]


def _invalid(message: str, expression: str) -> InvalidContent:
    return InvalidContent([Issue(IssueCode.VALUE, message, expression)], business_rule=True)
