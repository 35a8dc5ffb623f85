"""What the summary page shows besides the dataset, as JSON: the `$summary` operation's
JSON form is the dataset API's answer (the dataset, its completeness, whether it came
overdue) plus these, so a Trust system reads what a clinician reads on the page.

    "call_back": {"telephone": "01632 960200", "contact": "…", "source": "configuration"}
    "ladder": {"level": "Manager", "contact": {"name": "…", "telephone": "…"},
               "respond_by": "2026-11-21T14:25:00Z", "answered": false, "missed": false,
               "next_level": "Senior", "next_contact": {"name": "…", "telephone": "…"}}
    "safeguarding": {"actions": [{"reference": "Task/…", "what": "…", "owner": "…",
                                  "status": "accepted", "due": "…", "overdue": false}],
                     "restrictions": [{"reference": "…", "what": "…", "author": "…",
                                       "until": "…", "review_due": "…",
                                       "overdue_review": false}]}
"""

from __future__ import annotations

from typing import Any

from core.fhir.dates import format_instant
from core.handover.dataset import EscalationSummary, Handover
from core.handover.ladder_position import LadderContact, LadderPosition
from core.handover.summary_page import SummaryContext
from core.safeguarding.picture import picture_json


def summary_json(dataset: Handover | EscalationSummary, context: SummaryContext) -> dict[str, Any]:
    """`call_back` (when there is a number), `ladder` (when the gateway knows it), and
    `safeguarding` (when it was looked up: both lists, empty when there is nothing)."""
    found: dict[str, Any] = {}
    call_back = call_back_json(dataset, context)
    if call_back is not None:
        found["call_back"] = call_back
    if context.ladder is not None:
        found["ladder"] = ladder_json(context.ladder)
    if context.safeguarding is not None:
        found["safeguarding"] = picture_json(context.safeguarding)
    return found


def call_back_json(
    dataset: Handover | EscalationSummary, context: SummaryContext
) -> dict[str, Any] | None:
    """The number the page shows to call back: the sender's (`source` dataset), else the
    sending organisation's configured one (`source` configuration); None when neither."""
    sender = dataset.sender
    if sender.contact is not None:
        who = ", ".join(part for part in (sender.practitioner, sender.role, sender.team) if part)
        found: dict[str, Any] = {"telephone": sender.contact, "source": "dataset"}
        if who:
            found["contact"] = who
        return found
    configured = context.sender_call_back
    if configured is None:
        return None
    found = {"telephone": configured.telephone, "source": "configuration"}
    if configured.contact_name is not None:
        found["contact"] = configured.contact_name
    return found


def ladder_json(position: LadderPosition) -> dict[str, Any]:
    """The position as the page says it; what is unknown or absent (no deadline, the top
    of the ladder: no next level) is left out, as the dataset leaves out absent fields."""
    found: dict[str, Any] = {"level": position.level}
    if position.contact is not None:
        found["contact"] = _contact(position.contact)
    if position.respond_by is not None:
        found["respond_by"] = format_instant(position.respond_by, fixed_width=False)
    found["answered"] = position.answered
    found["missed"] = position.missed
    if position.next_level is not None:
        found["next_level"] = position.next_level
    if position.next_contact is not None:
        found["next_contact"] = _contact(position.next_contact)
    return found


def _contact(contact: LadderContact) -> dict[str, Any]:
    found = {"name": contact.name}
    if contact.telephone is not None:
        found["telephone"] = contact.telephone
    return found
