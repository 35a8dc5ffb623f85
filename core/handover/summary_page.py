"""The decision-ready summary of a handover or escalation, as one HTML page.

A crisis clinician reads it in under a minute and decides, so it leads with what decides:
the priority and the respond-by time (in England's local time, with how long is left or
how long overdue), any gaps the referral checklist found, who the person is and who to
call back, then the key risks (highest first) and the rest of the dataset in the fixed
order of the handover Communication's sections.

Everything in a dataset is free text from another organisation's system: every value is
escaped (html.escape) and isolated in its own <bdi>, so a bidi control in it (a
right-to-left override, say) is kept and shown but cannot reorder anything around it; the
page carries no script and loads nothing, and its Content-Security-Policy forbids both
should a value ever slip through. The page title
names no patient. The output is a pure function of its inputs (no clock, no locale), so
the same dataset and context give the same string.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from core.codes.handover import (
    ESCALATION_LEVELS,
    HANDOVER_SECTIONS,
    NHS_NUMBER_VERIFICATION,
    PATHWAYS,
    REQUEST_TYPES,
    RISK_TYPES,
    SHARING_BASES,
)
from core.handover.dataset import Escalation, EscalationSummary, Handover, KeyRisk
from core.handover.field_names import field_name
from core.handover.summary_style import CSP as _CSP
from core.handover.summary_style import CSS as _CSS

_ENGLAND = ZoneInfo("Europe/London")


@dataclass(frozen=True, slots=True)
class SummaryContext:
    """What the gateway knows about a dataset besides the dataset itself."""

    communication_id: str | None  # gateway ids, shown small at the bottom
    service_request_id: str | None
    received_at: datetime | None  # when the gateway received it (UTC aware)
    generated_at: datetime  # now, UTC aware: "in 45 minutes" is measured from here
    # Dataset field paths the referral checklist found missing (warnings).
    incomplete_fields: tuple[str, ...] = ()
    # Its respond-by had already passed when the gateway received it (the ServiceRequest's
    # overdue-on-receipt tag): accepted, never refused, and shown late from the start.
    overdue_on_receipt: bool = False

    def __post_init__(self) -> None:
        for moment in (self.received_at, self.generated_at):
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("summary times must carry their offset")


PRIORITIES = {
    "emergency": "Emergency",
    "very-urgent": "Very urgent",
    "urgent": "Urgent",
    "routine": "Routine",
}
_LEVEL_ORDER = {"high": 0, "medium": 1, "low": 2}
_LEVEL_WORDS = {"high": "High", "medium": "Medium", "low": "Low"}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        _urgency(dataset, escalation, heading, context),
        _incomplete(context.incomplete_fields),
        _person(dataset, context),
        _sender(dataset),
        _receiver(dataset),
        _key_risks(dataset.key_risks),
        _escalation_step(escalation),
        _text_section("current-presentation", dataset.current_presentation),
        _text_section("what-has-changed", dataset.what_has_changed),
        _indicators(escalation),
        _actions(dataset),
        _text_section("current-plan", dataset.current_plan),
        _request(dataset),
        _text_section("information-shared", escalation.information_shared if escalation else None),
        _response(escalation),
        _text_section("next-action", escalation.next_action if escalation else None),
        _sharing(dataset),
        _legal(dataset),
        _footer(dataset, context),
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


# --- The top: priority, respond-by, gaps ---------------------------------------------------


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
        badge = f'<span class="priority priority-{_e(priority)}">{_e(PRIORITIES[priority])}</span>'
    else:
        badge = '<span class="priority">Priority not given</span>'
    if respond_by is not None:
        relative, overdue = _relative(respond_by, context.generated_at)
        css = "overdue" if overdue else "due"
        respond = f'Respond by {_time(respond_by)} <span class="{css}">({_e(relative)})</span>'
    else:
        respond = "No respond-by time given"
    kind = heading
    if escalation is not None:
        kind += f" · {ESCALATION_LEVELS[escalation.level].display}"
    # An emergency fills the banner red; very urgent gives it a red border.
    level = f" urgency-{_e(priority)}" if priority is not None else ""
    late = ""
    if context.overdue_on_receipt:
        said = _overdue_on_receipt(respond_by, context)
        late = f'<p class="late" id="overdue-on-receipt">{said}</p>\n'
    return (
        f'<header class="urgency{level}" id="respond-by">\n'
        f"<h1>{badge}</h1>\n"
        f'<p class="respond">{respond}</p>\n'
        f"{late}"
        f'<p class="kind">{_e(kind)}</p>\n'
        "</header>"
    )


def _overdue_on_receipt(respond_by: datetime | None, context: SummaryContext) -> str:
    said = "<strong>Overdue on receipt</strong>"
    if respond_by is None or context.received_at is None or context.received_at <= respond_by:
        return f"{said}: its respond-by had passed when the gateway received it"
    minutes = math.ceil((context.received_at - respond_by).total_seconds() / 60)
    return f"{said}: it arrived {_e(_span(minutes))} after its respond-by"


def _relative(due: datetime, now: datetime) -> tuple[str, bool]:
    """("in 45 minutes", False) or ("overdue by 2 hours 5 minutes", True).

    Rounded towards urgency: time left is rounded down, time overdue up.
    """
    seconds = (due - now).total_seconds()
    if seconds == 0:
        return "due now", False
    if seconds > 0:
        minutes = int(seconds // 60)
        if minutes == 0:
            return "due in less than a minute", False
        return f"in {_span(minutes)}", False
    return f"overdue by {_span(math.ceil(-seconds / 60))}", True


def _span(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = [(days, "day"), (hours, "hour")] if days else [(hours, "hour"), (mins, "minute")]
    return " ".join(f"{count} {unit}{'' if count == 1 else 's'}" for count, unit in units if count)


def _incomplete(fields: tuple[str, ...]) -> str:
    if not fields:
        return ""
    names = list(dict.fromkeys(field_name(field) for field in fields))
    items = "".join(f"<li>{_e(name)}</li>" for name in names)
    return (
        '<section class="incomplete" id="incomplete" aria-labelledby="incomplete-heading">\n'
        '<h2 id="incomplete-heading">Incomplete referral — missing:</h2>\n'
        f"<ul>{items}</ul>\n"
        "</section>"
    )


# --- Who: the person, the sender, the receiver -----------------------------------------------


def _person(dataset: Handover | EscalationSummary, context: SummaryContext) -> str:
    patient = dataset.patient
    rows: list[tuple[str, str | None]] = []
    if patient.name is not None:
        rows.append(("Name", _joined(patient.name.given, patient.name.family, sep=" ")))
    if patient.nhs_number is not None:
        rows.append(("NHS number", _t(nhs_number(patient.nhs_number))))
    if patient.local_identifier is not None:
        # No NHS number yet: the sender's own number for the person is how to ask about them.
        rows.append(("NHS number", "None yet"))
        issued = f"{patient.local_identifier.value} (the sender's, {dataset.sender.ods})"
        rows.append(("Local identifier", _t(issued)))
    if patient.nhs_number_status is not None:
        status = NHS_NUMBER_VERIFICATION[patient.nhs_number_status].display
        rows.append(("NHS number status", _e(status)))
    if patient.birth_date is not None:
        today = context.generated_at.astimezone(_ENGLAND).date()
        age = _age(patient.birth_date, today)
        rows.append(("Date of birth", f"{_date(patient.birth_date)} (aged {age})"))
    address = patient.address
    if address is not None:
        rows.append(("Address", _joined(*address.lines, address.city, address.postcode)))
    return _section("patient", _dl(rows))


def nhs_number(value: str) -> str:
    """9434765919 -> 943 476 5919, as the NHS writes it."""
    return f"{value[:3]} {value[3:6]} {value[6:]}" if len(value) == 10 else value


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _sender(dataset: Handover | EscalationSummary) -> str:
    sender = dataset.sender
    callback = ""
    if sender.contact is not None:
        callback = f'<p class="callback">Call back: {_phone(sender.contact)}</p>\n'
    rows = [
        ("Practitioner", _opt(sender.practitioner)),
        ("Role", _opt(sender.role)),
        ("Team", _opt(sender.team)),
        ("Organisation (ODS)", _t(sender.ods)),
    ]
    return _section("sender-contact", callback + _dl(rows))


def _phone(contact: str) -> str:
    """The contact as written; a tap-to-call link only when it reads as a phone number
    (digits, spaces, brackets and dashes: nothing that needs isolating)."""
    dial = re.sub(r"[\s()\-]", "", contact)
    if re.fullmatch(r"\+?[0-9]{6,15}", dial):
        return f'<a href="tel:{_e(dial)}">{_e(contact)}</a>'
    return _t(contact)


def _receiver(dataset: Handover | EscalationSummary) -> str:
    receiver = dataset.receiver
    rows = [("Organisation (ODS)", _t(receiver.ods)), ("Service", _opt(receiver.service))]
    return '<section id="receiver">\n<h2>Sent to</h2>\n' + _dl(rows) + "\n</section>"


# --- What: the sections, in the Communication's order -------------------------------------


def ordered_risks(risks: Iterable[KeyRisk]) -> list[KeyRisk]:
    """High, medium, low, then unstated; the sender's order within a level."""
    return sorted(risks, key=lambda risk: _LEVEL_ORDER.get(risk.level or "", 3))


def _key_risks(risks: tuple[KeyRisk, ...]) -> str:
    if not risks:
        return _section("key-risks", '<p class="text">No key risks recorded</p>')
    items = []
    for risk in ordered_risks(risks):
        level = risk.level or "unstated"
        word = _LEVEL_WORDS.get(level, "Level not stated")
        line = (
            f'<span class="badge level-{_e(level)}">{_e(word)}</span> '
            f"<strong>{_e(RISK_TYPES[risk.type].display)}</strong>"
        )
        if risk.since is not None:
            line += f" <span>since {_date(risk.since)}</span>"
        if risk.description is not None:
            line += f'\n<p class="text">{_t(risk.description)}</p>'
        items.append(f"<li>{line}</li>")
    return _section("key-risks", '<ul class="risks">\n' + "\n".join(items) + "\n</ul>")


def _escalation_step(escalation: Escalation | None) -> str:
    if escalation is None:
        return ""
    by = escalation.escalated_by
    to = escalation.escalated_to
    by_text = _joined(by.name, by.role, by.team) if by is not None else None
    to_text = None
    if to is not None:
        to_text = _joined(to.role, to.service, f"ODS {to.ods}" if to.ods else None)
    rows = [
        ("Level", _e(ESCALATION_LEVELS[escalation.level].display)),
        ("When", _time(escalation.escalated_at) if escalation.escalated_at else None),
        ("By", by_text),
        ("To", to_text),
        ("Escalates referral", _opt(escalation.related_referral)),
    ]
    return _section("escalation-step", _dl(rows))


def _indicators(escalation: Escalation | None) -> str:
    if escalation is None or not escalation.early_warning_indicators:
        return ""
    items = "".join(f"<li>{_t(item)}</li>" for item in escalation.early_warning_indicators)
    return _section("early-warning-indicator", f"<ul>{items}</ul>")


def _actions(dataset: Handover | EscalationSummary) -> str:
    if not dataset.actions_taken:
        return ""
    items = []
    for action in dataset.actions_taken:
        line = f"{_time(action.at)}: " if action.at is not None else ""
        line += _t(action.action)
        if action.by is not None:
            line += f" — by {_t(action.by)}"
        items.append(f"<li>{line}</li>")
    return _section("action-taken", "<ol>\n" + "\n".join(items) + "\n</ol>")


def _request(dataset: Handover | EscalationSummary) -> str:
    request = dataset.request
    if request is None:
        return ""
    rows = [
        ("Type", _e(REQUEST_TYPES[request.type].display) if request.type else None),
        ("Request", _opt(request.summary)),
    ]
    return _section("request", _dl(rows))


def _response(escalation: Escalation | None) -> str:
    if escalation is None:
        return ""
    response = escalation.response
    if response is None:
        return _section("escalation-response", '<p class="text">No response recorded yet</p>')
    rows = [
        ("When", _time(response.received_at) if response.received_at else None),
        ("From", _opt(response.from_)),
        ("Summary", _opt(response.summary)),
    ]
    return _section("escalation-response", _dl(rows))


def _sharing(dataset: Handover | EscalationSummary) -> str:
    sharing = dataset.sharing
    if sharing is None:
        return ""
    rows = [
        ("Basis", _e(SHARING_BASES[sharing.basis].display) if sharing.basis else None),
        ("Consent obtained", _yes_no(sharing.consent_obtained)),
        ("Reason not obtained", _opt(sharing.reason_if_not)),
    ]
    return _section("sharing", _dl(rows))


def _legal(dataset: Handover | EscalationSummary) -> str:
    legal = dataset.legal
    if legal is None:
        return ""
    rows = [
        ("Mental Health Act status", _opt(legal.mental_health_act_status)),
        ("Capacity concerns", _yes_no(legal.capacity_concerns)),
    ]
    return _section("legal", _dl(rows))


def _footer(dataset: Handover | EscalationSummary, context: SummaryContext) -> str:
    rows = [
        ("Sender's reference", _t(dataset.external_id)),
        ("Locality", _opt(dataset.locality)),
        ("Received by the gateway", _time(context.received_at) if context.received_at else None),
        ("Summary generated", _time(context.generated_at)),
        ("Communication", _opt(context.communication_id)),
        ("ServiceRequest", _opt(context.service_request_id)),
    ]
    return '<footer class="meta">\n' + _dl(rows) + "\n</footer>"


# --- Small pieces ------------------------------------------------------------------------------


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _t(value: str) -> str:
    """Free text from the sender: escaped, and isolated so that its direction (and any
    bidi control in it) stays inside its own <bdi> and cannot reorder the page."""
    return f"<bdi>{_e(value)}</bdi>"


def _opt(value: str | None) -> str | None:
    return None if value is None else _t(value)


def _joined(*values: str | None, sep: str = ", ") -> str | None:
    """Free-text values as HTML, each isolated on its own, or None if none is given."""
    present = [_t(value) for value in values if value]
    return sep.join(present) if present else None


def _yes_no(value: bool | None) -> str | None:
    return None if value is None else ("Yes" if value else "No")


def _section(code: str, body: str) -> str:
    """A section headed with the handover-section display its Communication part carries."""
    if not body:
        return ""
    title = HANDOVER_SECTIONS[code].display
    return f'<section id="{_e(code)}">\n<h2>{_e(title)}</h2>\n{body}\n</section>'


def _text_section(code: str, text: str | None) -> str:
    return _section(code, f'<p class="text">{_t(text)}</p>') if text else ""


def _dl(rows: Iterable[tuple[str, str | None]]) -> str:
    """Rows whose value is already HTML; a row without a value is left out."""
    present = [f"<dt>{_e(term)}</dt><dd>{value}</dd>" for term, value in rows if value]
    return "<dl>\n" + "\n".join(present) + "\n</dl>" if present else ""


def _time(moment: datetime) -> str:
    """A UTC instant as England reads it, machine-readable in UTC."""
    utc = moment.astimezone(UTC).replace(microsecond=0)
    local = moment.astimezone(_ENGLAND)
    shown = (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}, "
        f"{local.hour:02d}:{local.minute:02d} {local.tzname()}"
    )
    return f'<time datetime="{utc:%Y-%m-%dT%H:%M:%SZ}">{_e(shown)}</time>'


def _date(day: date) -> str:
    shown = f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    return f'<time datetime="{day.isoformat()}">{_e(shown)}</time>'
