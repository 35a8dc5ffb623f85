"""The write rule that keeps safeguarding actions on their API, registered with the one
FHIR write path (gateway.fhir.writes) ahead of the referral-answer rules.

A safeguarding action (a Task coded in the gateway's safeguarding-action CodeSystem) is
raised only through POST /api/safeguarding/actions and moved on only through
POST /api/safeguarding/actions/{id}/status, where the owner rule is checked and the
Provenance written. A create or update through /fhir/Task that is, or would replace, a
safeguarding action is refused (422, pointing to the API), so no client goes around
those rules, whatever its scopes.
"""

from __future__ import annotations

import json
from typing import Any

from core.fhir.issues import Issue, IssueCode
from core.fhir.parties import is_safeguarding_action
from gateway.fhir.service import ResourceService
from gateway.fhir.writes import Ruled, WriteContext
from gateway.platform.errors import InvalidContent
from gateway.safeguarding.service import RaisedThroughApi

_RAISE = (
    "A safeguarding action is raised through POST /api/safeguarding/actions, not written "
    "as a FHIR Task: the API checks who may raise it and keeps the tracker."
)
_MOVE = (
    "A safeguarding action moves on only through POST /api/safeguarding/actions/{id}/status "
    "(the owner accepts, starts and completes it; the requester cancels it), which "
    "records who asked in a Provenance."
)


class ActionWrites:
    """Refuses a client's FHIR create or update of a safeguarding action."""

    def __init__(self, resources: ResourceService) -> None:
        self._resources = resources

    def on_create(self, body: dict[str, Any], context: WriteContext | None) -> Ruled:
        if is_safeguarding_action(body) and not isinstance(context, RaisedThroughApi):
            raise _refused(_RAISE)
        return Ruled(body)

    def on_update(self, resource_id: str, body: dict[str, Any]) -> Ruled:
        if is_safeguarding_action(body):
            raise _refused(_MOVE)
        # Nor may an update turn an action into some other Task: read as the caller
        # (not there, or not the caller's to see, is the same 404 as any update's).
        current = json.loads(self._resources.read("Task", resource_id).content)
        if is_safeguarding_action(current):
            raise _refused(_MOVE)
        return Ruled(body)


def _refused(message: str) -> InvalidContent:
    return InvalidContent(
        [Issue(IssueCode.BUSINESS_RULE, message, "Task.code")], business_rule=True
    )
