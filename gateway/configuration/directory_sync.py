"""Keeping Organization resources in step with the configured directory of organisations.

The directory is configuration: organisations.yaml says which organisations exist, and
the Organization rows are made to say exactly that, by the gateway alone (no client may
write one: gateway.platform.errors.DirectoryReadOnly). Whatever rows the store holds, the sync
never fails on them; before the directory became read-only, clients could write some:

- each configured organisation keeps the oldest row that was created with its ODS code
  (its own, made by the first sync, in any deployment that configured it from the start),
  rewritten to the configured content if anything changed it; a new one if none was;
- every other Organization row (a duplicate of an ODS code, an organisation not in the
  directory, a row whose identifier was taken over) is retired: a new version, written
  by the gateway, that is inactive and names no organisation. Nothing is deleted, so
  its history stays readable and no literal reference to it dangles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.fhir.organisations import organization_resource
from core.fhir.validation import without_server_owned
from gateway.configuration.directory_store import ORGANIZATION, OrganizationRow
from gateway.configuration.models import Organisation
from gateway.fhir.service import ResourceService

# What a retired row says: no identifier, so it resolves to no organisation, and inactive.
RETIRED: dict[str, Any] = {
    "resourceType": ORGANIZATION,
    "active": False,
    "name": "Retired: not in this deployment's directory",
}


@dataclass(frozen=True, slots=True)
class SyncReport:
    created: int
    updated: int
    unchanged: int
    retired: int = 0


def sync_organisations(
    service: ResourceService,
    rows: list[OrganizationRow],
    organisations: tuple[Organisation, ...],
) -> SyncReport:
    """One Organization per configured ODS code, and no other active one (idempotent).
    `service` acts as the gateway (no caller); `rows` are oldest first."""
    kept: dict[str, OrganizationRow] = {}
    for organisation in organisations:
        taken = {row.current.id for row in kept.values()}
        oldest = next(
            (
                row
                for row in rows
                if organisation.ods in row.first_codes and row.current.id not in taken
            ),
            None,
        )
        if oldest is not None:
            kept[organisation.ods] = oldest
    kept_ids = {row.current.id for row in kept.values()}
    retired = sum(_write(service, row, RETIRED) for row in rows if row.current.id not in kept_ids)
    created = updated = unchanged = 0
    for organisation in organisations:
        wanted = organization_resource(organisation.ods, organisation.name)
        row = kept.get(organisation.ods)
        if row is None:
            service.create(ORGANIZATION, wanted)
            created += 1
        elif _write(service, row, wanted):
            updated += 1
        else:
            unchanged += 1
    return SyncReport(created, updated, unchanged, retired)


def _write(service: ResourceService, row: OrganizationRow, wanted: dict[str, Any]) -> bool:
    """Make the row say `wanted`, as a new version, unless it already does."""
    record = row.current
    if _content(record.content) == wanted:
        return False
    service.update(ORGANIZATION, record.id, {**wanted, "id": record.id}, if_match=record.version_id)
    return True


def _content(text: str) -> dict[str, Any] | None:
    try:
        stored = json.loads(text)
    except ValueError:
        return None
    return without_server_owned(stored) if isinstance(stored, dict) else None
