"""Which organisations a resource concerns, as the access log records them in each event
that names it: the data's origin and every party to it (requester, performer, recipient,
owner...).

A named version is looked up as that version was (its own origin and parties, migration
0008); a resource named without a version, as it is now. A resource the store does not
hold (a refused create, a made-up id, an AuditEvent) names no organisation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, select, tuple_

from gateway.platform.schema import resource_parties, resource_versions, resources

# (resource type, id, version or None)
DataKey = tuple[str, str, int | None]
_T = TypeVar("_T")
# Bound parameters per statement stay well inside every database's limit.
_CHUNK = 300


@dataclass(slots=True)
class Organisations:
    """The ODS codes of a resource's origin (None if unknown) and of its parties."""

    origin: str | None = None
    parties: set[str] = field(default_factory=set)


def organisations_of(
    connection: Connection, data: Iterable[DataKey]
) -> dict[DataKey, Organisations]:
    """For each resource named, its origin and its parties (none if it is not stored)."""
    keys = list(dict.fromkeys(data))
    found = {key: Organisations() for key in keys}
    versioned = [key for key in keys if key[2] is not None]
    current = [key for key in keys if key[2] is None]
    for chunk in _chunks(versioned):
        versions = resource_versions.c
        rows = connection.execute(
            select(versions.resource_type, versions.id, versions.version_id)
            .add_columns(versions.origin, versions.parties)
            .where(tuple_(versions.resource_type, versions.id, versions.version_id).in_(chunk))
        )
        for row in rows:
            version = found[(row.resource_type, row.id, row.version_id)]
            version.origin = row.origin or None
            version.parties.update(_party_codes(row.parties))
    for chunk in _chunks(current):
        pairs = [(resource_type, resource_id) for resource_type, resource_id, _ in chunk]
        origins = connection.execute(
            select(resources.c.resource_type, resources.c.id, resources.c.origin).where(
                tuple_(resources.c.resource_type, resources.c.id).in_(pairs)
            )
        )
        for row in origins:
            found[(row.resource_type, row.id, None)].origin = row.origin or None
        parties = resource_parties.c
        for row in connection.execute(
            select(parties.resource_type, parties.resource_id, parties.ods_code).where(
                tuple_(parties.resource_type, parties.resource_id).in_(pairs)
            )
        ):
            found[(row.resource_type, row.resource_id, None)].parties.add(row.ods_code)
    return found


def _party_codes(encoded: str | None) -> Iterator[str]:
    for code, _basis in json.loads(encoded or "[]"):
        yield str(code)


def _chunks(items: Sequence[_T]) -> Iterator[list[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])
