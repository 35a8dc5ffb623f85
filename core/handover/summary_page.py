"""The decision-ready summary of a handover or escalation, as one HTML page.

A crisis clinician reads it in under a minute and decides, so what decides comes first,
above the fold of a laptop screen (1280x800): the priority and the respond-by time (in
England's local time, with how long is left or how long overdue, and whether it arrived
overdue or long after it was escalated), where the escalation stands on its ladder and
what happens if nobody answers, the person's restrictions in force and open safeguarding
actions, what is being asked, who to call back and on what number
(always one: the sender's, else the sending organisation's configured number), what has
changed, and the key risks, highest first. Then anything the referral checklist found
missing, the person (name, date of birth, address, for identification on a home visit),
and the rest of the dataset in the fixed order of the handover Communication's sections;
the receiving organisation (the reader's own) last. Services, localities, organisations,
levels and data categories are shown by their names, from configuration and the code
catalogue; a code without one is shown as it is.

Everything in a dataset is free text from another organisation's system: every value is
escaped (html.escape) and isolated in its own <bdi>, so a bidi control in it (a
right-to-left override, say) is kept and shown but cannot reorder anything around it; the
page carries no script and loads nothing, and its Content-Security-Policy forbids both
should a value ever slip through. The page title
names no patient. The output is a pure function of its inputs (no clock, no locale), so
the same dataset and context give the same string.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from core.codes.handover import ESCALATION_LEVELS, PATHWAYS
from core.handover.dataset import Escalation, EscalationSummary, Handover
from core.handover.field_names import field_name
from core.handover.ladder_position import LadderContact, LadderPosition
from core.handover.summary_context import ConfiguredCallBack, Names, SummaryContext
from core.handover.summary_markup import (
    at_time,
    clock_time,
    escaped,
    phone,
    relative,
    span_words,
    text_section,
)
from core.handover.summary_sections import (
    actions_section,
    escalation_step_section,
    footer_section,
    indicators_section,
    key_risks_section,
    legal_section,
    nhs_number,
    ordered_risks,
    person_section,
    receiver_section,
    request_section,
    response_section,
    sender_section,
    sharing_section,
    timeline_section,
)
from core.handover.summary_style import CSP as _CSP
from core.handover.summary_style import CSS as _CSS
from core.safeguarding.picture import picture_section

# The context's parts and the sections' helpers others use, importable from here.
__all__ = [
    "LATE_ESCALATION",
    "PRIORITIES",
    "ConfiguredCallBack",
    "Names",
    "SummaryContext",
    "ladder_line",
    "nhs_number",
    "ordered_risks",
    "summary_html",
]

# An escalation received more than this long after its `escalated_at` is flagged: a step
# of the ladder is taken because a response is needed within minutes to hours, so an hour
# between taking the step and the receiver getting it means it waited somewhere (an EPR's
# outbox, a manual re-key) and the reader must know the situation may have moved on. Less
# is clock differences and ordinary queueing.
LATE_ESCALATION = timedelta(hours=1)

PRIORITIES = {
    "emergency": "Emergency",
    "very-urgent": "Very urgent",
    "urgent": "Urgent",
    "routine": "Routine",
}


def summary_html(dataset: Handover | EscalationSummary, context: SummaryContext) -> str:
    """The summary page of `dataset`, as a complete HTML5 document."""
    escalation = dataset.escalation if isinstance(dataset, EscalationSummary) else None
    kind = "Escalation summary" if escalation is not None else "Handover summary"
    heading = f"{kind} — {PATHWAYS[dataset.pathway].display}"
    timing = dataset.time_sensitivity
    priority = timing.priority if timing is not None else None
    title = f"{PRIORITIES[priority]}: {heading}" if priority is not None else heading
    parts = [
        "<!doctype html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{escaped(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        # Above the fold: what decides (side by side on a wide screen).
        _urgency(dataset, escalation, heading, context),
        _ladder(context),
        # What a crisis team must know of the person when deciding: restrictions in
        # force and safeguarding work under way.
        picture_section(context.safeguarding, context.generated_at),
        _withheld(context),
        '<div class="decide">',
        '<div class="column">',
        request_section(dataset),
        sender_section(dataset, context),
        "</div>",
        '<div class="column">',
        text_section("what-has-changed", dataset.what_has_changed),
        key_risks_section(dataset.key_risks),
        "</div>",
        "</div>",
        # Then what is missing, who the person is, and the rest in the sections' order.
        _incomplete(dataset, context.incomplete_fields),
        person_section(dataset, context),
        escalation_step_section(escalation, context.names),
        timeline_section(context),
        text_section("current-presentation", dataset.current_presentation),
        indicators_section(escalation),
        actions_section(dataset),
        text_section("current-plan", dataset.current_plan),
        text_section("information-shared", escalation.information_shared if escalation else None),
        response_section(escalation),
        text_section("next-action", escalation.next_action if escalation else None),
        sharing_section(dataset),
        legal_section(dataset),
        # The reader's own organisation: least news to them.
        receiver_section(dataset, context.names),
        footer_section(dataset, context),
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _urgency(
    dataset: Handover | EscalationSummary,
    escalation: Escalation | None,
    heading: str,
    context: SummaryContext,
) -> str:
    timing = dataset.time_sensitivity
    priority = timing.priority if timing is not None else None
    respond_by = timing.respond_by if timing is not None else None
    if priority is not None:
        shown = escaped(PRIORITIES[priority])
        badge = f'<span class="priority priority-{escaped(priority)}">{shown}</span>'
    else:
        badge = '<span class="priority">Priority not given</span>'
    if respond_by is not None:
        left, overdue = relative(respond_by, context.generated_at)
        css = "overdue" if overdue else "due"
        respond = f'Respond by {at_time(respond_by)} <span class="{css}">({escaped(left)})</span>'
    else:
        respond = "No respond-by time given"
    kind = heading
    if escalation is not None:
        kind += f" · {ESCALATION_LEVELS[escalation.level].display}"
    # An emergency fills the banner red; very urgent gives it a red border.
    level = f" urgency-{escaped(priority)}" if priority is not None else ""
    late = ""
    if context.overdue_on_receipt:
        said = _overdue_on_receipt(respond_by, context)
        late = f'<p class="late" id="overdue-on-receipt">{said}</p>\n'
    late += _late_escalation(escalation, context)
    return (
        f'<header class="urgency{level}" id="respond-by">\n'
        f"<h1>{badge}</h1>\n"
        f'<p class="respond">{respond}</p>\n'
        f"{late}"
        f'<p class="kind">{escaped(kind)}</p>\n'
        "</header>"
    )


def _overdue_on_receipt(respond_by: datetime | None, context: SummaryContext) -> str:
    said = "<strong>Overdue on receipt</strong>"
    if respond_by is None or context.received_at is None or context.received_at <= respond_by:
        return f"{said}: its respond-by had passed when the gateway received it"
    minutes = math.ceil((context.received_at - respond_by).total_seconds() / 60)
    return f"{said}: it arrived {escaped(span_words(minutes))} after its respond-by"


def _late_escalation(escalation: Escalation | None, context: SummaryContext) -> str:
    """The step was taken long before the gateway received it: "escalated at 09:10,
    received 13:40: 4 hours 30 minutes later"."""
    escalated = escalation.escalated_at if escalation is not None else None
    received = context.received_at
    if escalated is None or received is None or received - escalated <= LATE_ESCALATION:
        return ""
    minutes = int((received - escalated).total_seconds() // 60)
    return (
        '<p class="late" id="late-escalation"><strong>Received late</strong>: escalated at '
        f"{clock_time(escalated, context.generated_at)}, received "
        f"{clock_time(received, context.generated_at)}: {escaped(span_words(minutes))} later</p>\n"
    )


def _incomplete(dataset: Handover | EscalationSummary, fields: tuple[str, ...]) -> str:
    if not fields:
        return ""
    names = list(dict.fromkeys(field_name(field) for field in fields))
    items = "".join(f"<li>{escaped(name)}</li>" for name in names)
    kind = "escalation" if isinstance(dataset, EscalationSummary) else "handover"
    return (
        '<section class="incomplete" id="incomplete" aria-labelledby="incomplete-heading">\n'
        f'<h2 id="incomplete-heading">Incomplete {kind} — missing:</h2>\n'
        f"<ul>{items}</ul>\n"
        "</section>"
    )


def _ladder(context: SummaryContext) -> str:
    position = context.ladder
    if position is None:
        return ""
    return (
        '<section class="ladder" id="ladder" aria-label="Escalation ladder">\n'
        f"<p>{ladder_line(position, context.generated_at)}</p>\n"
        "</section>"
    )


def ladder_line(position: LadderPosition, now: datetime) -> str:
    """As HTML: "Manager step; if no response by 14:25, steps up to the Trust on-call
    manager, 01632 960102". Every name is already the configured display name."""
    line = f"<strong>{escaped(position.level)} step</strong>"
    if position.contact is not None:
        line += f" ({_contact(position.contact)})"
    if position.answered:
        return f"{line}: answered"
    due = clock_time(position.respond_by, now) if position.respond_by is not None else None
    if position.next_contact is not None:
        target = f"the {_contact(position.next_contact)}"
    else:
        target = f"the {escaped(position.next_level or '')} step"
    if position.missed:
        line += f"; no response by {due}" if due else "; no response in time"
        if position.next_level is None:
            return f"{line}; top of the ladder"
        return f"{line}; steps up to {target}"
    if position.next_level is None:
        return f"{line}{f'; respond by {due}' if due else ''}; top of the ladder"
    condition = f"if no response by {due}" if due else "if not answered"
    return f"{line}; {condition}, steps up to {target}"


def _contact(contact: LadderContact) -> str:
    if contact.telephone is None:
        return escaped(contact.name)
    return f"{escaped(contact.name)}, {phone(contact.telephone)}"


def _withheld(context: SummaryContext) -> str:
    if not context.withheld:
        return ""
    return (
        '<p class="withheld" id="withheld"><strong>Partial</strong>: a data-sharing agreement '
        "withholds free text from your organisation, so text the sender wrote is not shown; "
        "telephone the sender for it.</p>"
    )
