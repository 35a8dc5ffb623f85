"""The write rule that keeps restrictions to their API: a restriction Flag (flag-category
`restriction`) is never created or changed through /fhir, so none escapes the
restrictions standard (alternatives considered, the review interval) and none is
extended without a review. Every other Flag (the risk flags of a handover) is written
as before."""

from __future__ import annotations

import json
from typing import Any

from core.fhir.issues import Issue, IssueCode
from core.safeguarding.restrictions_fhir import is_restriction
from gateway.fhir.service import ResourceService
from gateway.fhir.writes import Ruled, WriteContext
from gateway.platform.errors import InvalidContent

MESSAGE = (
    "A restriction on a person is recorded through POST /api/restrictions and changed only "
    "by a review, POST /api/restrictions/{id}/reviews; it cannot be created or changed "
    "through /fhir."
)


class RestrictionFlags:
    def __init__(self, resources: ResourceService) -> None:
        # The caller's own service: a Flag the caller may not see is not found, as the
        # update itself would say, so refusing here reveals nothing more.
        self._resources = resources

    def on_create(self, body: dict[str, Any], context: WriteContext | None) -> Ruled:
        if is_restriction(body):
            raise _refused()
        return Ruled(body)

    def on_update(self, resource_id: str, body: dict[str, Any]) -> Ruled:
        if is_restriction(body) or is_restriction(
            json.loads(self._resources.read("Flag", resource_id).content)
        ):
            raise _refused()
        return Ruled(body)


def _refused() -> InvalidContent:
    return InvalidContent(
        [Issue(IssueCode.BUSINESS_RULE, MESSAGE, "Flag.category")], business_rule=True
    )
