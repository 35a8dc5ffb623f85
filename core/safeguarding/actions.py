"""A safeguarding action, as raised through the API, and the FHIR R4 Task that records it.

    Task.code                 the kind of action, in the gateway's safeguarding-action
                              CodeSystem (core.codes.safeguarding says why not a standard one)
    Task.description          what is to be done, as the requester wrote it
    Task.for                  the person, by NHS number (no NHS number, no action)
    Task.requester            the organisation that raised it (ODS): its sender and origin
    Task.owner                the organisation responsible for doing it (ODS)
    Task.performerType.text   the named role or team within the owner who holds it: R4's
                              element for "the kind of participant that should perform the
                              task"; owner.display stays the organisation's, as elsewhere
    Task.restriction.period.end  the deadline ("when the task must be completed by", the
                              element NHS England's Task profile also marks for it)
    Task.priority             routine | urgent | asap | stat, from the ladder's priority
                              (routine, urgent, very-urgent, emergency) one for one
    Task.status               requested -> accepted -> in-progress -> completed; or cancelled
    Task.intent               order: the requester asks the owner to act
    Task.extension locality   the locality whose ladder applies (as the dataset's)
    Task.note                 who raised it and who moved it on, each with when
    Task.executionPeriod      start when the owner starts it, end when it is completed
    Task.output               on completion: the outcome (required) and the evidence
                              (optional), each a string typed by the gateway's
                              safeguarding-action-output CodeSystem
    Task.statusReason.text    on cancellation: why
    meta.tag                  the safeguarding data category, so that consent and the
                              data-sharing agreements decide it as safeguarding data

Pure: a validated body and ids and times in, a dict out. Messages name fields, never values.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from pydantic import Field

from core.codes import handover as handover_codes
from core.codes import safeguarding as codes
from core.codes import sharing as sharing_codes
from core.fhir.dates import format_instant
from core.fhir.identifier_types import NhsNumber, OdsCode
from core.fhir.identifiers import NHS_NUMBER_SYSTEM
from core.handover.dataset import Instant, Priority, Text, _Part
from core.handover.fhir.elements import organisation

ActionKind = Literal[
    "strategy-discussion",
    "local-authority-referral",
    "risk-assessment",
    "safety-plan",
    "information-sharing",
    "welfare-check",
    "other",
]
# The ladder's priorities (as the handover dataset's) and Task.priority, one for one.
TASK_PRIORITY: Final = MappingProxyType(
    {"routine": "routine", "urgent": "urgent", "very-urgent": "asap", "emergency": "stat"}
)
LADDER_PRIORITY: Final = MappingProxyType({v: k for k, v in TASK_PRIORITY.items()})
SAFEGUARDING_TAG: Final = sharing_codes.DATA_CATEGORIES["safeguarding"]

ShortText = Field(min_length=1, max_length=200)
LongText = Field(min_length=1, max_length=4000)


class Person(_Part):
    """The named person acting for an organisation, and their role."""

    name: Text = ShortText
    role: Text | None = Field(default=None, min_length=1, max_length=200)

    def label(self) -> str:
        return f"{self.name}, {self.role}" if self.role else self.name


class ActionPatient(_Part):
    nhs_number: NhsNumber


class Owner(_Part):
    ods: OdsCode
    # The named role or team within the owner who holds the action.
    team: Text = ShortText


class RaisedBy(_Part):
    # The caller's organisation; given, it must be the caller's.
    ods: OdsCode | None = None
    person: Person


class ActionRequest(_Part):
    """The body of POST /api/safeguarding/actions."""

    patient: ActionPatient
    action: ActionKind
    description: Text = LongText
    owner: Owner
    requester: RaisedBy
    deadline: Instant
    priority: Priority
    locality: Text | None = Field(default=None, min_length=1, max_length=64)


def action_task(
    request: ActionRequest, *, task_id: str, requester_ods: str, now: datetime
) -> dict[str, Any]:
    """The first version of the Task for `request`, raised by `requester_ods` at `now`."""
    kind = codes.ACTION_KINDS[request.action]
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": task_id,
        "meta": {"tag": [SAFEGUARDING_TAG.coding()]},
    }
    if request.locality is not None:
        task["extension"] = [
            {"url": handover_codes.EXTENSION_LOCALITY, "valueString": request.locality}
        ]
    task |= {
        "status": "requested",
        "intent": "order",
        "priority": TASK_PRIORITY[request.priority],
        "code": {"coding": [kind.coding()], "text": kind.display},
        "description": request.description,
        "for": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": request.patient.nhs_number}},
        "authoredOn": _instant(now),
        "lastModified": _instant(now),
        "requester": organisation(requester_ods),
        "owner": organisation(request.owner.ods),
        "performerType": [{"text": request.owner.team}],
        "restriction": {"period": {"end": _instant(request.deadline)}},
        "note": [
            {
                "authorString": f"{request.requester.person.label()} ({requester_ods})",
                "time": _instant(now),
                "text": "Raised the action.",
            }
        ],
    }
    return task


def _instant(moment: datetime) -> str:
    return format_instant(moment, fixed_width=False)
