"""The handover or escalation itself, as a Communication from the sender to the receiver.

Its payload is in sections, in the fixed order of handover_codes.HANDOVER_SECTIONS, each marked
with its section code so a receiver can find one without reading the rest. Each section's
`contentString` is readable text. A section that holds a single text field of the dataset
(presentation, what has changed, plan...) holds exactly that text; a section made of
several fields (an action taken, the escalation step...) also carries them, typed, in a
dataset-entry extension, which is what mapping back reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from core.codes import handover as handover_codes
from core.fhir.dates import format_instant
from core.handover.dataset import Escalation, EscalationSummary, Handover, PatientAddress
from core.handover.fhir.elements import (
    ResourceIds,
    data_category_tags,
    entry,
    organisation,
    patient_reference,
    recipients,
    reference,
)
from core.handover.fhir.service_request import FHIR_PRIORITY

Section = dict[str, Any]


def communication(
    dataset: Handover | EscalationSummary, ids: ResourceIds, received_at: datetime
) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Communication", "id": ids.communication}
    tags = data_category_tags(dataset)
    if tags:
        resource["meta"] = {"tag": tags}
    based_on = [reference("ServiceRequest", ids.service_request)]
    escalation = dataset.escalation if isinstance(dataset, EscalationSummary) else None
    if escalation is not None and escalation.related_referral is not None:
        based_on.append(reference("ServiceRequest", escalation.related_referral))
    resource["basedOn"] = based_on
    # An escalation is in progress until its response is recorded.
    awaiting = escalation is not None and escalation.response is None
    resource["status"] = "in-progress" if awaiting else "completed"
    categories = [{"coding": [handover_codes.DATASET_KINDS[dataset.dataset].coding()]}]
    if escalation is not None:
        # The ladder level is a category (searchable, and kept when free text is withheld).
        categories.append({"coding": [handover_codes.ESCALATION_LEVELS[escalation.level].coding()]})
    resource["category"] = categories
    timing = dataset.time_sensitivity
    if timing is not None and timing.priority is not None:
        resource["priority"] = FHIR_PRIORITY[timing.priority]
    resource["subject"] = patient_reference(dataset.patient)
    sent = escalation.escalated_at if escalation is not None else None
    resource["sent"] = format_instant(sent or received_at, fixed_width=False)
    resource["recipient"] = [organisation(ods) for ods in recipients(dataset)]
    resource["sender"] = organisation(dataset.sender.ods)
    payload = list(sections(dataset))
    if payload:
        # FHIR JSON has no empty arrays: a dataset with nothing to say has no payload.
        resource["payload"] = payload
    return resource


def sections(dataset: Handover | EscalationSummary) -> Iterator[Section]:
    """The payload, in the order handover_codes.HANDOVER_SECTIONS lists."""
    patient = dataset.patient
    name = patient.name
    given, family = (name.given, name.family) if name is not None else (None, None)
    address = patient.address
    yield from _entry_section(
        "patient",
        [
            ("given", given),
            ("family", family),
            ("birth_date", patient.birth_date),
            ("address", address),
        ],
        _joined(
            [_joined([given, family], " ", then=_born(patient.birth_date)), _lives_at(address)],
            "; ",
        ),
    )
    sender = dataset.sender
    yield from _entry_section(
        "sender-contact",
        [
            ("team", sender.team),
            ("practitioner", sender.practitioner),
            ("role", sender.role),
            ("contact", sender.contact),
        ],
        _joined([sender.practitioner, sender.role, sender.team, sender.contact], ", "),
    )
    for risk in dataset.key_risks:
        # Readable only: the Flags hold each risk.
        detail = _joined(
            [
                risk.level and handover_codes.RISK_LEVELS[risk.level].display.lower(),
                _since(risk.since),
            ],
            ", ",
        )
        line = handover_codes.RISK_TYPES[risk.type].display + (f" ({detail})" if detail else "")
        yield _section("key-risks", line + (f": {risk.description}" if risk.description else ""))
    yield from _text_section("current-presentation", dataset.current_presentation)
    yield from _text_section("what-has-changed", dataset.what_has_changed)
    for action in dataset.actions_taken:
        yield from _entry_section(
            "action-taken",
            [("action", action.action), ("at", action.at), ("by", action.by)],
            _joined([_when(action.at), action.by], ", ", then=action.action, joiner=": "),
        )
    yield from _text_section("current-plan", dataset.current_plan)
    request = dataset.request
    if request is not None:
        kind = handover_codes.REQUEST_TYPES[request.type].display if request.type else None
        yield _section("request", _joined([kind, request.summary], ": "))
    sharing = dataset.sharing
    if sharing is not None:
        yield from _entry_section(
            "sharing",
            [
                ("basis", sharing.basis and handover_codes.SHARING_BASES[sharing.basis]),
                ("consent_obtained", sharing.consent_obtained),
                ("reason_if_not", sharing.reason_if_not),
            ],
            _joined(
                [
                    sharing.basis and handover_codes.SHARING_BASES[sharing.basis].display,
                    _yes_no("consent obtained", sharing.consent_obtained),
                    sharing.reason_if_not,
                ],
                "; ",
            ),
        )
    legal = dataset.legal
    if legal is not None:
        yield from _entry_section(
            "legal",
            [
                ("mental_health_act_status", legal.mental_health_act_status),
                ("capacity_concerns", legal.capacity_concerns),
            ],
            _joined(
                [
                    legal.mental_health_act_status
                    and f"Mental Health Act: {legal.mental_health_act_status}",
                    _yes_no("capacity concerns", legal.capacity_concerns),
                ],
                "; ",
            ),
        )
    if isinstance(dataset, EscalationSummary):
        yield from _escalation_sections(dataset.escalation)


def _escalation_sections(escalation: Escalation) -> Iterator[Section]:
    by, to = escalation.escalated_by, escalation.escalated_to
    step: list[tuple[str, Any]] = [
        ("escalated_at", escalation.escalated_at),
    ]
    if by is not None:
        step += [
            ("escalated_by.name", by.name),
            ("escalated_by.role", by.role),
            ("escalated_by.team", by.team),
        ]
    if to is not None:
        step += [
            ("escalated_to.ods", to.ods),
            ("escalated_to.service", to.service),
            ("escalated_to.role", to.role),
        ]
    who_by = by and _joined([by.name, by.role, by.team], ", ")
    who_to = to and _joined([to.role, to.service, to.ods], ", ")
    yield from _entry_section(
        "escalation-step",
        step,
        _joined(
            [
                handover_codes.ESCALATION_LEVELS[escalation.level].display,
                _when(escalation.escalated_at),
                who_by and f"by {who_by}",
                who_to and f"to {who_to}",
            ],
            ", ",
        ),
    )
    yield from _text_section("information-shared", escalation.information_shared)
    for indicator in escalation.early_warning_indicators:
        yield _section("early-warning-indicator", indicator)
    response = escalation.response
    if response is not None:
        yield from _entry_section(
            "escalation-response",
            [
                ("received_at", response.received_at),
                ("from", response.from_),
                ("summary", response.summary),
            ],
            _joined(
                [_when(response.received_at), response.from_],
                ", ",
                then=response.summary,
                joiner=": ",
            ),
        )
    yield from _text_section("next-action", escalation.next_action)


def _section(code: str, text: str | None, *extensions: dict[str, Any]) -> Section:
    marker = {
        "url": handover_codes.EXTENSION_SECTION,
        "valueCoding": handover_codes.HANDOVER_SECTIONS[code].coding(),
    }
    readable = text or handover_codes.HANDOVER_SECTIONS[code].display
    return {"extension": [marker, *extensions], "contentString": readable}


def _text_section(code: str, text: str | None) -> Iterator[Section]:
    if text is not None:
        yield _section(code, text)


def _entry_section(code: str, fields: list[tuple[str, Any]], text: str | None) -> Iterator[Section]:
    extension = entry(fields)
    if extension is not None:
        yield _section(code, text, extension)


def _joined(
    parts: list[Any], separator: str, *, then: str | None = None, joiner: str = ""
) -> str | None:
    head = separator.join(part for part in parts if part)
    if then is None:
        return head or None
    return f"{head}{joiner}{then}" if head else then


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%d %b %Y %H:%M UTC")


def _since(day: date | None) -> str | None:
    return None if day is None else f"since {day.isoformat()}"


def _lives_at(address: PatientAddress | None) -> str | None:
    if address is None:
        return None
    return "address: " + ", ".join(
        [*address.lines, *filter(None, [address.city, address.postcode])]
    )


def _born(day: date | None) -> str | None:
    return None if day is None else f", born {day.isoformat()}"


def _yes_no(label: str, value: bool | None) -> str | None:
    return None if value is None else f"{label}: {'yes' if value else 'no'}"
