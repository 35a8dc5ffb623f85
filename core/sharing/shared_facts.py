"""A message's sharing facts, kept with its delivery: what the consent re-check before
each attempt decides on (each resource's type, data category, patient, security labels
and when it was made), so the re-check need not parse the message again.

Encoded as compact JSON. Decoding is strict: anything but what `encode` writes is a
ValueError, and the caller falls back to the message itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from consent.model import DATA_CATEGORIES
from core.fhir.patients import is_about_a_person
from core.sharing.facts import SharedData, shared_data

SharedResource = tuple[str, SharedData]


def message_facts(message: Mapping[str, Any], patient: str | None) -> list[SharedResource]:
    """The facts of every resource a message Bundle carries after its MessageHeader. A
    message is about one person, `patient` (their identifier as established when the
    resources were written): each resource of a type about a person is theirs."""
    facts: list[SharedResource] = []
    for entry in message.get("entry", [])[1:]:
        resource_type = entry["resource"]["resourceType"]
        person = patient if is_about_a_person(resource_type) else None
        facts.append((resource_type, shared_data(resource_type, entry["resource"], person)))
    return facts


def encode(facts: Sequence[SharedResource]) -> str:
    return json.dumps(
        [
            [
                resource_type,
                data.category,
                data.patient,
                sorted([system, code] for system, code in data.security_labels),
                data.made_at.isoformat() if data.made_at is not None else None,
            ]
            for resource_type, data in facts
        ],
        separators=(",", ":"),
    )


def decode(text: str) -> list[SharedResource]:
    try:
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise TypeError(type(rows).__name__)
        return [_fact(row) for row in rows]
    except (TypeError, KeyError, ValueError) as error:  # JSONDecodeError is a ValueError
        raise ValueError("not a delivery's sharing facts") from error


def _fact(row: list[Any]) -> SharedResource:
    resource_type, category, patient, labels, made = row
    if not isinstance(resource_type, str) or category not in DATA_CATEGORIES:
        raise ValueError("not a delivery's sharing facts")
    if patient is not None and not isinstance(patient, str):
        raise ValueError("not a delivery's sharing facts")
    made_at = datetime.fromisoformat(made) if made is not None else None
    if made_at is not None and made_at.tzinfo is None:
        raise ValueError("not a delivery's sharing facts")
    return resource_type, SharedData(
        category=category,
        patient=patient,
        security_labels=frozenset((str(system), str(code)) for system, code in labels),
        made_at=made_at,
    )
