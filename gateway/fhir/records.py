"""What the store hands back: a stored resource (with its sharing facts) and its parties."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    content: str  # the JSON text as served, meta included
    # This version's sharing facts.
    facts: SharingFacts | None = None
    # This version's parties, on a version read from history (None on a current one:
    # ResourceStore.parties has those).
    parties: tuple[Party, ...] | None = None


@dataclass(frozen=True, slots=True)
class SharingFacts:
    """What searches filter on before consent is weighed (see consent.decision)."""

    patient: str | None  # the person: an NHS number, or a local identifier system|value
    origin: str | None  # ODS code of the organisation the data comes from
    category: str | None  # data category (referral, escalation, risk-flag...)


@dataclass(frozen=True, slots=True)
class Party:
    ods_code: str
    basis: str  # requester, performer, sender, recipient, owner, author...


def record_from_row(row: object) -> StoredResource:
    mapping = row._mapping  # type: ignore[attr-defined]
    facts = (
        SharingFacts(mapping["patient"], mapping["origin"], mapping["data_category"])
        if "origin" in mapping
        else None
    )
    parties: tuple[Party, ...] | None = None
    if "parties" in mapping:
        # A version row; one with none recorded has no parties (fail closed).
        rows = json.loads(mapping["parties"] or "[]")
        parties = tuple(Party(str(code), str(basis)) for code, basis in rows)
    return StoredResource(
        resource_type=mapping["resource_type"],
        id=mapping["id"],
        version_id=mapping["version_id"],
        last_updated=mapping["last_updated"],
        content=mapping["content"],
        facts=facts,
        parties=parties,
    )


def encode_parties(parties: Iterable[Party]) -> str:
    """A version's parties as the resource_versions.parties column holds them."""
    return json.dumps([[party.ods_code, party.basis] for party in parties], separators=(",", ":"))
