"""What the decision point needs to know about a resource: its data category, its
patient, its security labels and when it was made; and the resource with its free text
withheld, where an agreement says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from consent.model import DATA_CATEGORIES, DataCategory
from core.codes import sharing as sharing_codes
from core.fhir.dates import parse_date_range

# Each type's data category when nothing on the resource says otherwise.
_DEFAULT_CATEGORY: dict[str, DataCategory] = {"Flag": "risk-flag", "AuditEvent": "audit"}
# Where each type records when it was made (clinically), for Consent dataPeriod.
_MADE_AT = {
    "ServiceRequest": ("authoredOn",),
    "Communication": ("sent",),
    "Flag": ("period", "start"),
    "Task": ("authoredOn",),
    "Consent": ("dateTime",),
    "Provenance": ("recorded",),
}
# Free text the gateway withholds when an agreement says so (narrative and notes).
_FREE_TEXT = ("text", "note", "patientInstruction", "description", "comment")


@dataclass(frozen=True, slots=True)
class SharedData:
    category: DataCategory
    # The person's identifier (core.fhir.patients): an NHS number or a local identifier;
    # None for data about nobody, or about a person who could not be established.
    patient: str | None
    security_labels: frozenset[tuple[str, str]]
    made_at: datetime | None


def shared_data(resource_type: str, resource: Mapping[str, Any], patient: str | None) -> SharedData:
    """`patient`: the person's identifier, as established when the resource was written
    (core.fhir.patients.patient_fact): never read again from how the content names them."""
    return SharedData(
        category=data_category(resource_type, resource),
        patient=patient,
        security_labels=security_labels(resource),
        made_at=made_at(resource_type, resource),
    )


def data_category(resource_type: str, resource: Mapping[str, Any]) -> DataCategory:
    """A data-category code on the resource (meta.tag or category) decides; safeguarding
    wins over any other, so that marking a concern as safeguarding can never widen who
    sees it. Otherwise by type: a Communication in an escalation category is an
    escalation, a Flag a risk flag, and the rest referral data."""
    tagged = {
        cast(DataCategory, coding["code"])
        for coding in _category_codings(resource)
        if coding.get("system") == sharing_codes.DATA_CATEGORY_SYSTEM
        and coding.get("code") in DATA_CATEGORIES
    }
    if "safeguarding" in tagged:
        return "safeguarding"
    for category in DATA_CATEGORIES:
        if category in tagged:
            return category
    if resource_type == "Communication" and any(
        coding.get("code") == "escalation" for coding in _category_codings(resource)
    ):
        return "escalation"
    return _DEFAULT_CATEGORY.get(resource_type, "referral")


def security_labels(resource: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    meta = resource.get("meta")
    labels = meta.get("security") if isinstance(meta, Mapping) else None
    return frozenset(
        (str(label.get("system", "")), label["code"])
        for label in (labels if isinstance(labels, list) else [])
        if isinstance(label, Mapping) and isinstance(label.get("code"), str)
    )


def made_at(resource_type: str, resource: Mapping[str, Any]) -> datetime | None:
    node: Any = resource
    for step in _MADE_AT.get(resource_type, ()):
        node = node.get(step) if isinstance(node, Mapping) else None
    span = parse_date_range(node) if isinstance(node, str) else None
    return None if span is None else span.low


def without_free_text(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource without narrative, notes and string payloads, labelled REDACTED.

    Only elements that are optional in R4 are removed, so the result stays valid.
    """
    kept = {key: value for key, value in resource.items() if key not in _FREE_TEXT}
    payload = kept.get("payload")
    if isinstance(payload, list):
        remaining = [
            item for item in payload if not (isinstance(item, Mapping) and "contentString" in item)
        ]
        if remaining:
            kept["payload"] = remaining
        else:
            kept.pop("payload")
    meta = dict(kept.get("meta") or {})
    redacted = sharing_codes.SECURITY_REDACTED
    labels = [label for label in meta.get("security", []) if label.get("code") != redacted.code]
    meta["security"] = [*labels, redacted.coding()]
    kept["meta"] = meta
    return kept


def _category_codings(resource: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    meta = resource.get("meta")
    tags = meta.get("tag") if isinstance(meta, Mapping) else None
    for coding in tags if isinstance(tags, list) else []:
        if isinstance(coding, Mapping):
            yield coding
    categories = resource.get("category")
    for concept in categories if isinstance(categories, list) else [categories]:
        codings = concept.get("coding") if isinstance(concept, Mapping) else None
        for coding in codings if isinstance(codings, list) else []:
            if isinstance(coding, Mapping):
                yield coding
