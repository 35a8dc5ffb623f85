"""An escalation's steps on its receiver's ladder: the deadline each step is held to, the
step the gateway takes on the sender's behalf when one is not answered in time, and the
notice it writes when it does.

Pure: the shell (gateway.handovers.ladder) reads the configuration, the clock and the
store, and passes what they say in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.codes import handover as handover_codes
from core.fhir.dates import format_instant
from core.handover.dataset import (
    EscalatedBy,
    EscalatedTo,
    EscalationSummary,
    TimeSensitivity,
)
from core.handover.fhir.elements import (
    data_category_tags,
    organisation,
    patient_reference,
    reference,
)
from core.handover.fhir.service_request import FHIR_PRIORITY

# Who a step-up says escalated it: the gateway, on the sender's behalf.
GATEWAY_ESCALATOR = "Mental-health interface gateway, on the sender's behalf"
GATEWAY_ROLE = "Automatic step-up (agreed escalation ladder)"


def step_deadline(
    received_at: datetime, respond_by: datetime | None, within: timedelta | None
) -> datetime | None:
    """When a step's receiver must respond by: the earlier of the sender's respond-by and
    the ladder level's time from receipt.

    A respond-by already past on receipt (an escalation held in the sender's outbox) is
    not a deadline anyone could meet, and would step the escalation up the moment it
    arrived: such a step is held to its level's time instead (and shown overdue). With no
    ladder, a step is held to its respond-by alone, if that is still ahead.
    """
    ladder_time = received_at + within if within is not None else None
    if respond_by is None or respond_by <= received_at:
        return ladder_time
    if ladder_time is None:
        return respond_by
    return min(respond_by, ladder_time)


def missed_reason(level: str, local_time: str) -> str:
    """Why a step was taken without a person: "No response to the front-line escalation
    by 14:25" (`local_time` as the reader's clock shows the deadline)."""
    display = handover_codes.ESCALATION_LEVELS[level].display.lower()
    return f"No response to the {display} by {local_time}"


def stepped_up(
    step: EscalationSummary,
    *,
    level: str,
    contact: str,
    external_id: str,
    now: datetime,
    respond_by: datetime,
    reason: str,
) -> EscalationSummary:
    """The next step of `step`'s escalation at `level`: the same person, request, risks
    and what was shared, escalated by the gateway on the sender's behalf to `contact` at
    the same receiver, to be answered by `respond_by`. Its next action says why it was
    taken."""
    escalation = step.escalation
    team = escalation.escalated_by.team if escalation.escalated_by else step.sender.team
    timing = step.time_sensitivity or TimeSensitivity()
    return step.model_copy(
        update={
            "external_id": external_id,
            "time_sensitivity": timing.model_copy(update={"respond_by": respond_by}),
            "escalation": escalation.model_copy(
                update={
                    "level": level,
                    "escalated_at": now,
                    "escalated_by": EscalatedBy(
                        name=GATEWAY_ESCALATOR, role=GATEWAY_ROLE, team=team
                    ),
                    "escalated_to": EscalatedTo(
                        ods=step.receiver.ods,
                        service=step.receiver.service,
                        role=contact,
                    ),
                    "response": None,
                    "next_action": f"{reason}: stepped up to {contact}. "
                    f"Previous next action: {escalation.next_action or 'none given'}",
                }
            ),
        }
    )


_MARKS = (handover_codes.EXTENSION_RESPONSE_DEADLINE, handover_codes.EXTENSION_PREVIOUS_STEP)


def with_step_marks(
    communication: dict[str, Any], *, deadline: datetime | None, previous_step: str | None
) -> dict[str, Any]:
    """The step's Communication with its response deadline and the step it came from,
    as extensions (R4 Communication has no element for either). Mapping back to the
    dataset ignores both."""
    marks: list[dict[str, Any]] = []
    if deadline is not None:
        marks.append(
            {
                "url": handover_codes.EXTENSION_RESPONSE_DEADLINE,
                "valueDateTime": format_instant(deadline, fixed_width=False),
            }
        )
    if previous_step is not None:
        marks.append(
            {
                "url": handover_codes.EXTENSION_PREVIOUS_STEP,
                "valueReference": reference("Communication", previous_step),
            }
        )
    return carrying(communication, marks)


def step_marks(communication: dict[str, Any]) -> list[dict[str, Any]]:
    """The ladder's extensions a step's Communication carries."""
    return [ext for ext in communication.get("extension", []) if ext.get("url") in _MARKS]


def carrying(communication: dict[str, Any], marks: list[dict[str, Any]]) -> dict[str, Any]:
    """`communication` with `marks` as its ladder extensions (replacing any it had), so a
    new version the gateway writes keeps the step's deadline."""
    others = [ext for ext in communication.get("extension", []) if ext.get("url") not in _MARKS]
    extensions = others + marks
    rest = {
        key: value
        for key, value in communication.items()
        if key not in ("resourceType", "id", "extension")
    }
    head = {"resourceType": communication["resourceType"], "id": communication["id"]}
    # Extensions before the other elements, as FHIR JSON writes them.
    return {**head, "extension": extensions, **rest} if extensions else {**head, **rest}


def tagged(resource: dict[str, Any], tag: dict[str, str]) -> dict[str, Any]:
    """`resource` with `tag` added to its meta.tag."""
    meta = dict(resource.get("meta", {}))
    meta["tag"] = [*meta.get("tag", []), tag]
    return {**resource, "meta": meta}


def ladder_notice(
    step: EscalationSummary,
    *,
    notice_id: str,
    kind: str,
    missed_step: str,
    next_step: str | None,
    service_request_id: str,
    recipients: list[str],
    text: str,
    now: datetime,
) -> dict[str, Any]:
    """A Communication telling `recipients` that a step went unanswered and what the
    gateway did (`kind`: stepped-up or ladder-exhausted). Written on the sender's behalf,
    about the same person, under the same data category as the escalation."""
    notice: dict[str, Any] = {"resourceType": "Communication", "id": notice_id}
    tags = data_category_tags(step)
    if tags:
        notice["meta"] = {"tag": tags}
    notice["basedOn"] = [reference("ServiceRequest", service_request_id)]
    notice["status"] = "completed"
    notice["category"] = [
        {"coding": [handover_codes.LADDER_NOTICE_CATEGORY.coding()]},
        {"coding": [handover_codes.LADDER_NOTICES[kind].coding()]},
    ]
    timing = step.time_sensitivity
    if timing is not None and timing.priority is not None:
        notice["priority"] = FHIR_PRIORITY[timing.priority]
    notice["subject"] = patient_reference(step.patient)
    about = [reference("Communication", missed_step)]
    if next_step is not None:
        about.append(reference("Communication", next_step))
    notice["about"] = about
    notice["sent"] = format_instant(now, fixed_width=False)
    notice["recipient"] = [organisation(ods) for ods in recipients]
    notice["sender"] = organisation(step.sender.ods)
    notice["payload"] = [{"contentString": text}]
    return notice


_ENGLAND = ZoneInfo("Europe/London")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def england_time(moment: datetime) -> str:
    """A deadline as people in England read it: "14:25 GMT on 8 Dec 2026"."""
    local = moment.astimezone(_ENGLAND)
    month = _MONTHS[local.month - 1]  # not %b, which follows the process's locale
    return (
        f"{local.hour:02d}:{local.minute:02d} {local.tzname()} on {local.day} {month} {local.year}"
    )
