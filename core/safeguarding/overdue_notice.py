"""The notice the gateway sends when a safeguarding deadline is missed: an action not
completed by its deadline, or a restriction not reviewed by its review date.

A Communication, written on behalf of the organisation that is owed the work (an
action's requester; a restriction's author), to the organisation that must act and to
whoever else is told: about the overdue record, under the safeguarding data category,
saying in words who has been reached and by when they must act.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.codes import handover as handover_codes
from core.codes import sharing as sharing_codes
from core.fhir.dates import format_instant
from core.fhir.identifiers import NHS_NUMBER_SYSTEM
from core.handover.fhir.elements import organisation, reference
from core.handover.ladder_steps import england_time

# What was due, as the notice says it.
_DUE = {
    "action": "was due to be completed by {due}",
    "review": "was due to be reviewed by {due}",
}
_NOT_DONE = {"action": "It is not completed.", "review": "No review has been recorded."}


@dataclass(frozen=True, slots=True)
class Reached:
    """Whom the escalation reached: a ladder level's name and contact, and by when."""

    level: str  # as people say it: "Manager"
    contact: str | None  # "Named nurse for safeguarding, 01632 960111"
    deadline: datetime


def overdue_text(
    kind: str,
    title: str,
    owner: str,
    missed_deadline: datetime,
    reached: Reached | None,
    top_contact: str | None,
) -> str:
    """What happened, in words: `owner` names the organisation (its name and ODS code)."""
    what = "Safeguarding action" if kind == "action" else "The review of restriction"
    due = _DUE.get(kind, "was due by {due}").format(due=england_time(missed_deadline))
    text = f'{what} "{title}" owned by {owner} {due}. {_NOT_DONE.get(kind, "")}'.rstrip()
    if reached is not None:
        who = (
            f"{reached.level.lower()} level ({reached.contact})"
            if reached.contact
            else (f"{reached.level.lower()} level")
        )
        return (
            f"{text} The gateway escalated it to the owner's {who}, who must see it done "
            f"by {england_time(reached.deadline)}."
        )
    call = f" Call {top_contact} now." if top_contact else ""
    return f"{text} No further level remains on the owner's safeguarding ladder.{call}"


def overdue_notice(
    *,
    notice_id: str,
    kind: str,  # a code in the ladder-notice CodeSystem
    record: str,  # the overdue record, as Type/id
    nhs_number: str,
    sender_ods: str,
    recipients: Sequence[str],
    text: str,
    now: datetime,
) -> dict[str, Any]:
    record_type, _, record_id = record.partition("/")
    return {
        "resourceType": "Communication",
        "id": notice_id,
        "meta": {"tag": [sharing_codes.DATA_CATEGORIES["safeguarding"].coding()]},
        "status": "completed",
        "category": [
            {"coding": [handover_codes.LADDER_NOTICE_CATEGORY.coding()]},
            {"coding": [handover_codes.LADDER_NOTICES[kind].coding()]},
        ],
        "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": nhs_number}},
        "about": [reference(record_type, record_id)],
        "sent": format_instant(now, fixed_width=False),
        "recipient": [organisation(ods) for ods in dict.fromkeys(recipients)],
        "sender": organisation(sender_ods),
        "payload": [{"contentString": text}],
    }
