"""Keeping Organization resources in step with the configured directory of organisations."""

from __future__ import annotations

import json
from dataclasses import dataclass

from gateway.configuration.models import Organisation
from gateway.services.resources import ResourceService
from mappings.directory import organization_resource
from mappings.identifiers import ODS_ORGANISATION_SYSTEM
from mappings.resource_validation import without_server_owned


@dataclass(frozen=True, slots=True)
class SyncReport:
    created: int
    updated: int
    unchanged: int


def sync_organisations(
    service: ResourceService, organisations: tuple[Organisation, ...]
) -> SyncReport:
    """Create or update one Organization per configured ODS code (idempotent)."""
    created = updated = unchanged = 0
    for organisation in organisations:
        wanted = organization_resource(organisation.ods, organisation.name)
        query = f"identifier={ODS_ORGANISATION_SYSTEM}|{organisation.ods}"
        outcome = service.create("Organization", wanted, if_none_exist=query)
        if outcome.created:
            created += 1
            continue
        stored = json.loads(outcome.record.content)
        if without_server_owned(stored) == wanted:
            unchanged += 1
        else:
            service.update(
                "Organization",
                outcome.record.id,
                {**wanted, "id": outcome.record.id},
                if_match=outcome.record.version_id,
            )
            updated += 1
    return SyncReport(created, updated, unchanged)
