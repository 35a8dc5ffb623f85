"""The Organization rows in the store, as the start-up sync of the directory sees them:
each current version, and the ODS codes and time of its first version."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM
from gateway.fhir.records import StoredResource, record_from_row
from gateway.platform.schema import resource_versions, resources

ORGANIZATION = "Organization"


@dataclass(frozen=True, slots=True)
class OrganizationRow:
    current: StoredResource
    # The ODS codes the row was created with, and when: what it was made to stand for.
    first_codes: frozenset[str]
    created: datetime | None


def organization_rows(connection: Connection) -> list[OrganizationRow]:
    """Every Organization row, oldest first (by its first version; then by id)."""
    versions = resource_versions.c
    firsts = {
        row.id: (ods_codes(row.content), row.last_updated)
        for row in connection.execute(
            select(versions.id, versions.content, versions.last_updated).where(
                versions.resource_type == ORGANIZATION, versions.version_id == 1
            )
        )
    }
    found = [
        OrganizationRow(record, *firsts.get(record.id, (frozenset(), None)))
        for record in (
            record_from_row(row)
            for row in connection.execute(
                select(resources).where(resources.c.resource_type == ORGANIZATION)
            )
        )
    ]
    return sorted(found, key=lambda row: (row.created is None, row.created, row.current.id))


def ods_codes(content: str) -> frozenset[str]:
    """The ODS codes an Organization's JSON names; none if it is not what it should be."""
    try:
        resource: Any = json.loads(content)
    except ValueError:
        return frozenset()
    identifiers = resource.get("identifier") if isinstance(resource, dict) else None
    if not isinstance(identifiers, list):
        return frozenset()
    return frozenset(
        str(identifier["value"])
        for identifier in identifiers
        if isinstance(identifier, dict)
        and identifier.get("system") == ODS_ORGANISATION_SYSTEM
        and isinstance(identifier.get("value"), str)
    )
