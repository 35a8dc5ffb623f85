"""The summary page's sections, each headed as the handover Communication names its
section (the handover-section CodeSystem's displays): who to call back, what is asked,
the key risks, the person, the escalation step and the rest of the dataset, the receiver,
and the gateway's own facts at the foot. Organisations, services and localities by the
names configuration gives them (a code without one as it is)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from core.codes.handover import (
    ESCALATION_LEVELS,
    NHS_NUMBER_VERIFICATION,
    REQUEST_TYPES,
    RISK_TYPES,
    SHARING_BASES,
)
from core.codes.sharing import DATA_CATEGORIES
from core.handover.dataset import Escalation, EscalationSummary, Handover, KeyRisk
from core.handover.fhir.elements import data_category_tags
from core.handover.summary_context import Names, SummaryContext
from core.handover.summary_markup import (
    ENGLAND,
    at_time,
    calendar_date,
    definitions,
    escaped,
    isolated,
    joined,
    optional,
    phone,
    section,
    yes_no,
)

_LEVEL_ORDER = {"high": 0, "medium": 1, "low": 2}
_LEVEL_WORDS = {"high": "High", "medium": "Medium", "low": "Low"}


def person_section(dataset: Handover | EscalationSummary, context: SummaryContext) -> str:
    patient = dataset.patient
    rows: list[tuple[str, str | None]] = []
    if patient.name is not None:
        rows.append(("Name", joined(patient.name.given, patient.name.family, sep=" ")))
    if patient.nhs_number is not None:
        rows.append(("NHS number", isolated(nhs_number(patient.nhs_number))))
    if patient.local_identifier is not None:
        # No NHS number yet: the sender's own number for the person is how to ask about them.
        rows.append(("NHS number", "None yet"))
        issued = f"{patient.local_identifier.value} (the sender's, {dataset.sender.ods})"
        rows.append(("Local identifier", isolated(issued)))
    if patient.nhs_number_status is not None:
        status = NHS_NUMBER_VERIFICATION[patient.nhs_number_status].display
        rows.append(("NHS number status", escaped(status)))
    if patient.birth_date is not None:
        today = context.generated_at.astimezone(ENGLAND).date()
        age = _age(patient.birth_date, today)
        rows.append(("Date of birth", f"{calendar_date(patient.birth_date)} (aged {age})"))
    address = patient.address
    if address is not None:
        rows.append(("Address", joined(*address.lines, address.city, address.postcode)))
    return section("patient", definitions(rows))


def nhs_number(value: str) -> str:
    """9434765919 -> 943 476 5919, as the NHS writes it."""
    return f"{value[:3]} {value[3:6]} {value[6:]}" if len(value) == 10 else value


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def sender_section(dataset: Handover | EscalationSummary, context: SummaryContext) -> str:
    """A number to call always: the sender's from the dataset, else the sending
    organisation's configured one, else a plain statement that there is none."""
    sender = dataset.sender
    configured = context.sender_call_back
    organisation = _organisation(sender.ods, context.names)
    if sender.contact is not None:
        callback = f'<p class="callback">Call back: {phone(sender.contact)}</p>'
    elif configured is not None:
        source = "the sending organisation's configured number (the sender gave none)"
        if configured.contact_name:
            source = f"{escaped(configured.contact_name)}: {source}"
        else:
            source = source[0].upper() + source[1:]
        callback = (
            f'<p class="callback">Call back: {phone(configured.telephone)}</p>\n'
            f'<p class="source">{source}</p>'
        )
    else:
        # The organisation is named below: the reader finds its number from there.
        callback = '<p class="callback">No call-back number given</p>'

    who = joined(sender.practitioner, sender.role, sender.team)
    at = f"{who} · {organisation}" if who else organisation
    return section("sender-contact", f'{callback}\n<p class="who">{at}</p>')


def _organisation(ods: str, names: Names) -> str:
    """An organisation by its directory name and ODS code, or its code alone."""
    name = names.organisations.get(ods)
    return f"{escaped(name)} ({isolated(ods)})" if name else f"ODS {isolated(ods)}"


def _service(code: str | None, names: Names) -> str | None:
    """A service by its configured name, or as the sender wrote it."""
    if code is None:
        return None
    name = names.services.get(code)
    return escaped(name) if name else isolated(code)


def receiver_section(dataset: Handover | EscalationSummary, names: Names) -> str:
    receiver = dataset.receiver
    rows = [
        ("Organisation", _organisation(receiver.ods, names)),
        ("Service", _service(receiver.service, names)),
    ]
    return '<section id="receiver">\n<h2>Sent to</h2>\n' + definitions(rows) + "\n</section>"


def ordered_risks(risks: Iterable[KeyRisk]) -> list[KeyRisk]:
    """High, medium, low, then unstated; the sender's order within a level."""
    return sorted(risks, key=lambda risk: _LEVEL_ORDER.get(risk.level or "", 3))


def key_risks_section(risks: tuple[KeyRisk, ...]) -> str:
    if not risks:
        return section("key-risks", '<p class="text">No key risks recorded</p>')
    items = []
    for risk in ordered_risks(risks):
        level = risk.level or "unstated"
        word = _LEVEL_WORDS.get(level, "Level not stated")
        line = (
            f'<span class="badge level-{escaped(level)}">{escaped(word)}</span> '
            f"<strong>{escaped(RISK_TYPES[risk.type].display)}</strong>"
        )
        if risk.since is not None:
            line += f" <span>since {calendar_date(risk.since)}</span>"
        if risk.description is not None:
            line += f'\n<p class="text">{isolated(risk.description)}</p>'
        items.append(f"<li>{line}</li>")
    return section("key-risks", '<ul class="risks">\n' + "\n".join(items) + "\n</ul>")


def escalation_step_section(escalation: Escalation | None, names: Names) -> str:
    if escalation is None:
        return ""
    by = escalation.escalated_by
    to = escalation.escalated_to
    by_text = joined(by.name, by.role, by.team) if by is not None else None
    to_text = None
    if to is not None:
        parts = [
            optional(to.role),
            _service(to.service, names),
            _organisation(to.ods, names) if to.ods else None,
        ]
        to_text = ", ".join(part for part in parts if part) or None
    rows = [
        ("Level", escaped(ESCALATION_LEVELS[escalation.level].display)),
        ("When", at_time(escalation.escalated_at) if escalation.escalated_at else None),
        ("By", by_text),
        ("To", to_text),
        ("Escalates referral", optional(escalation.related_referral)),
    ]
    return section("escalation-step", definitions(rows))


def indicators_section(escalation: Escalation | None) -> str:
    if escalation is None or not escalation.early_warning_indicators:
        return ""
    items = "".join(f"<li>{isolated(item)}</li>" for item in escalation.early_warning_indicators)
    return section("early-warning-indicator", f"<ul>{items}</ul>")


def actions_section(dataset: Handover | EscalationSummary) -> str:
    if not dataset.actions_taken:
        return ""
    items = []
    for action in dataset.actions_taken:
        line = f"{at_time(action.at)}: " if action.at is not None else ""
        line += isolated(action.action)
        if action.by is not None:
            line += f" — by {isolated(action.by)}"
        items.append(f"<li>{line}</li>")
    return section("action-taken", "<ol>\n" + "\n".join(items) + "\n</ol>")


def request_section(dataset: Handover | EscalationSummary) -> str:
    request = dataset.request
    if request is None:
        return section("request", '<p class="ask">Not stated: call the sender</p>')
    kind = (
        f"<strong>{escaped(REQUEST_TYPES[request.type].display)}</strong>" if request.type else ""
    )
    summary = isolated(request.summary) if request.summary is not None else ""
    return section(
        "request", f'<p class="ask">{kind}{": " if kind and summary else ""}{summary}</p>'
    )


def response_section(escalation: Escalation | None) -> str:
    if escalation is None:
        return ""
    response = escalation.response
    if response is None:
        return section("escalation-response", '<p class="text">No response recorded yet</p>')
    rows = [
        ("When", at_time(response.received_at) if response.received_at else None),
        ("From", optional(response.from_)),
        ("Summary", optional(response.summary)),
    ]
    return section("escalation-response", definitions(rows))


def sharing_section(dataset: Handover | EscalationSummary) -> str:
    sharing = dataset.sharing
    if sharing is None:
        return ""
    rows = [
        ("Basis", escaped(SHARING_BASES[sharing.basis].display) if sharing.basis else None),
        ("Consent obtained", yes_no(sharing.consent_obtained)),
        ("Reason not obtained", optional(sharing.reason_if_not)),
        ("Data category", _data_categories(dataset)),
    ]
    return section("sharing", definitions(rows))


def _data_categories(dataset: Handover | EscalationSummary) -> str | None:
    """The data categories the records are labelled with (only agreements covering them
    share it), by name."""
    codes = [tag["code"] for tag in data_category_tags(dataset)]
    shown = [DATA_CATEGORIES[code].display for code in codes if code in DATA_CATEGORIES]
    return escaped(", ".join(shown)) if shown else None


def legal_section(dataset: Handover | EscalationSummary) -> str:
    legal = dataset.legal
    if legal is None:
        return ""
    rows = [
        ("Mental Health Act status", optional(legal.mental_health_act_status)),
        ("Capacity concerns", yes_no(legal.capacity_concerns)),
    ]
    return section("legal", definitions(rows))


def footer_section(dataset: Handover | EscalationSummary, context: SummaryContext) -> str:
    rows = [
        ("Sender's reference", isolated(dataset.external_id)),
        ("Locality", _locality(dataset.locality, context.names)),
        ("Received by the gateway", at_time(context.received_at) if context.received_at else None),
        ("Summary generated", at_time(context.generated_at)),
        ("Communication", optional(context.communication_id)),
        ("ServiceRequest", optional(context.service_request_id)),
    ]
    return '<footer class="meta">\n' + definitions(rows) + "\n</footer>"


def _locality(code: str | None, names: Names) -> str | None:
    if code is None:
        return None
    name = names.localities.get(code)
    return escaped(name) if name else isolated(code)


_STATES = {
    "open": "waiting for a response",
    "answered": "answered",
    "missed": "no response by its deadline",
    "superseded": "followed by the sender's next step",
    "unwatched": "no deadline",
}


def timeline_section(context: SummaryContext) -> str:
    """Every step of the escalation so far, in order: its level, when, its deadline, and
    what came of it."""
    if not context.timeline:
        return ""
    items = []
    for step in context.timeline:
        line = (
            f"<strong>Step {step.step}: {escaped(step.level)}</strong>, {at_time(step.received_at)}"
        )
        if step.by_gateway:
            line += " (stepped up by the gateway)"
        if step.respond_by is not None:
            line += f"; respond by {at_time(step.respond_by)}"
        line += f" — {escaped(_STATES.get(step.state, step.state))}"
        if step.answered_at is not None:
            who = f" by {isolated(step.answered_by)}" if step.answered_by else ""
            line += f" ({at_time(step.answered_at)}{who})"
        items.append(f"<li>{line}</li>")
    body = "<ol>\n" + "\n".join(items) + "\n</ol>"
    return f'<section id="timeline">\n<h2>Escalation timeline</h2>\n{body}\n</section>'
