"""The owner rule: who may move a safeguarding action on, to what, and the next version
of its Task.

    requested   --owner-->      accepted
    accepted    --owner-->      in-progress
    in-progress --owner-->      completed    (with the outcome; evidence if any)
    requested | accepted | in-progress --requester--> cancelled (with the reason)

Nothing moves after completed or cancelled. Only the owner moves an action forward; only
the requester cancels what it raised (each organisation decides about its own records:
the requester raised the action, the owner holds the work). The gateway writes the new
version for whoever asked, with a Provenance naming them (gateway.safeguarding).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import Field, model_validator

from core.codes import handover as handover_codes
from core.codes import safeguarding as codes
from core.fhir.dates import format_instant
from core.handover.dataset import Text, _Part
from core.handover.fhir.elements import organisation
from core.handover.workflow_provenance import workflow_provenance
from core.safeguarding.actions import Person

Status = Literal["accepted", "in-progress", "completed", "cancelled"]
OPEN: Final = ("requested", "accepted", "in-progress")
FINISHED: Final = ("completed", "cancelled")
# The one status each forward move starts from.
_FORWARD: Final = {"accepted": "requested", "in-progress": "accepted", "completed": "in-progress"}
_SAID: Final = {
    "accepted": "Accepted the action.",
    "in-progress": "Started the action.",
    "completed": "Completed the action.",
    "cancelled": "Cancelled the action.",
}


class StatusChange(_Part):
    """The body of POST /api/safeguarding/actions/{id}/status."""

    status: Status
    by: Person
    outcome: Text | None = Field(default=None, min_length=1, max_length=4000)
    evidence: Text | None = Field(default=None, min_length=1, max_length=4000)
    reason: Text | None = Field(default=None, min_length=1, max_length=4000)

    @model_validator(mode="after")
    def _what_each_status_needs(self) -> StatusChange:
        if self.status == "completed" and self.outcome is None:
            raise ValueError("outcome: an action is completed with its outcome")
        if self.status == "cancelled" and self.reason is None:
            raise ValueError("reason: an action is cancelled with the reason")
        if self.status != "completed" and (self.outcome or self.evidence):
            raise ValueError("outcome: outcome and evidence are given only when completing")
        if self.status != "cancelled" and self.reason is not None:
            raise ValueError("reason: a reason is given only when cancelling")
        return self


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a move is refused: `forbidden` (not this organisation's to make) or
    `conflict` (not from the action's current status)."""

    kind: Literal["forbidden", "conflict"]
    message: str


def refusal(change: Status, current: str, roles: frozenset[str]) -> Refusal | None:
    """None when an organisation holding `roles` (owner, requester) may move an action
    from `current` to `change`."""
    if change == "cancelled":
        if "requester" not in roles:
            return Refusal(
                "forbidden", "Only the organisation that raised an action may cancel it."
            )
    elif "owner" not in roles:
        return Refusal(
            "forbidden",
            "Only the organisation that owns an action may accept, start or complete it.",
        )
    if current in FINISHED:
        return Refusal("conflict", f"The action is {current}: nothing moves after that.")
    if change != "cancelled" and _FORWARD[change] != current:
        return Refusal(
            "conflict",
            f"An action moves to {change} only from {_FORWARD[change]}; it is {current}.",
        )
    return None


def next_task(
    task: Mapping[str, Any], change: StatusChange, *, acting_ods: str, now: datetime
) -> dict[str, Any]:
    """The Task's next version: `change` made by `acting_ods` at `now` (checked first)."""
    moved = copy.deepcopy(dict(task))
    moved["meta"] = {"tag": copy.deepcopy(task.get("meta", {}).get("tag", []))}
    at = format_instant(now, fixed_width=False)
    moved["status"] = change.status
    moved["lastModified"] = at
    period = dict(moved.get("executionPeriod", {}))
    if change.status == "in-progress":
        period["start"] = at
    if change.status == "completed":
        period.setdefault("start", at)
        period["end"] = at
        outputs = [{"type": {"coding": [codes.OUTCOME.coding()]}, "valueString": change.outcome}]
        if change.evidence is not None:
            outputs.append(
                {"type": {"coding": [codes.EVIDENCE.coding()]}, "valueString": change.evidence}
            )
        moved["output"] = outputs
    if period:
        moved["executionPeriod"] = period
    if change.status == "cancelled":
        moved["statusReason"] = {"text": change.reason}
    moved["note"] = [
        *moved.get("note", []),
        {
            "authorString": f"{change.by.label()} ({acting_ods})",
            "time": at,
            "text": _SAID[change.status],
        },
    ]
    return moved


def move_provenance(
    provenance_id: str,
    *,
    target: str,
    cause: str,
    requester_ods: str,
    acting_ods: str,
    by: Person,
    recorded: datetime,
    changed: Mapping[str, Any],
) -> dict[str, Any]:
    """The Provenance of a move the gateway wrote for `acting_ods`: the new version
    (`target`) revises the previous one (`cause`, its source), the gateway performing
    it for the action's origin (`requester_ods`, the custodian) at the asking of `by`,
    acting for `acting_ods` (agent author, onBehalfOf)."""
    provenance = workflow_provenance(
        provenance_id,
        target=target,
        cause=cause,
        custodian_ods=requester_ods,
        recorded=recorded,
        changed=changed,
    )
    asked: dict[str, Any] = {
        "type": {"coding": [handover_codes.PROVENANCE_AUTHOR.coding()]},
        "who": {"display": by.name},
        "onBehalfOf": organisation(acting_ods),
    }
    if by.role is not None:
        asked["role"] = [{"text": by.role}]
    provenance["agent"].append(asked)
    return provenance
