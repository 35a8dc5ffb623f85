"""Each key risk as a Flag: active, a safety flag, coded by the gateway's risk type and,
where one exists, by SNOMED CT, with its level, its start and the sender's description."""

from __future__ import annotations

from typing import Any

from core.codes import handover as handover_codes
from core.handover.dataset import EscalationSummary, Handover, KeyRisk
from core.handover.fhir.elements import (
    data_category_tags,
    organisation,
    patient_reference,
    recipients,
)


def flags(dataset: Handover | EscalationSummary, flag_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    # strict: one id for each key risk, or a programming error.
    pairs = zip(dataset.key_risks, flag_ids, strict=True)
    return [flag(dataset, risk, flag_id) for risk, flag_id in pairs]


def flag(dataset: Handover | EscalationSummary, risk: KeyRisk, flag_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Flag", "id": flag_id}
    tags = data_category_tags(dataset)
    if tags:
        resource["meta"] = {"tag": tags}
    extensions = [
        {"url": handover_codes.EXTENSION_RECIPIENT, "valueReference": organisation(ods)}
        for ods in recipients(dataset)
    ]
    if risk.level is not None:
        level = handover_codes.RISK_LEVELS[risk.level].coding()
        extensions.append({"url": handover_codes.EXTENSION_RISK_LEVEL, "valueCoding": level})
    resource["extension"] = extensions
    resource["status"] = "active"
    resource["category"] = [{"coding": [handover_codes.FLAG_CATEGORY_SAFETY.coding()]}]
    snomed = handover_codes.RISK_SNOMED.get(risk.type)
    codings = [
        *([snomed.coding()] if snomed else []),
        handover_codes.RISK_TYPES[risk.type].coding(),
    ]
    concept: dict[str, Any] = {"coding": codings}
    if risk.description is not None:
        # The sender's words about this risk: what a clinician reads first on the flag.
        concept["text"] = risk.description
    resource["code"] = concept
    resource["subject"] = patient_reference(dataset.patient)
    if risk.since is not None:
        resource["period"] = {"start": risk.since.isoformat()}
    resource["author"] = organisation(dataset.sender.ods)
    return resource
