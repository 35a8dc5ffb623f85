"""Versioned storage of FHIR resources: validate, work out who a resource involves and
who it is about, version, index and store.

It knows nothing of callers, scopes, consent or the access log: what it is told of the
writer is the organisation a version is attributed to. Whether a write may happen at
all is decided around it (gateway.fhir.service), before and after each step here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.fhir.dates import format_instant
from core.fhir.issues import ContentError
from core.fhir.validation import check_safe_content, check_uk_core, validate_structure
from core.search.indexing import index_rows
from core.sharing.consents import privacy_consent_issues
from gateway.fhir import schema_check as fhir_schema
from gateway.fhir.patients import LocalSystems, establish_patient
from gateway.fhir.senders import parties_of
from gateway.fhir.store import NewResource, Party, ResourceStore, SharingFacts, StoredResource
from gateway.platform.clock import Clock, utc_now
from gateway.platform.errors import InvalidContent
from gateway.sharing.policy import sharing_facts


@dataclass(frozen=True, slots=True)
class Prepared:
    """A resource ready to be versioned: who it involves, and who it is about."""

    resource_type: str
    resource: Mapping[str, Any]
    parties: list[Party]
    # The person's identifier as established (core.fhir.patients); None: about nobody.
    patient: str | None


class VersionedStorage:
    """Versions of resources in `store`, in its transaction."""

    def __init__(
        self,
        store: ResourceStore,
        *,
        local_systems: LocalSystems | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        # Each organisation's local patient identifier systems (organisations.yaml).
        self._local_systems: LocalSystems = local_systems or {}
        self._clock = clock

    def parties(self, resource_type: str, resource: Mapping[str, Any]) -> list[Party]:
        return parties_of(self.store, resource_type, resource)

    def patient(
        self,
        resource_type: str,
        resource: Mapping[str, Any],
        parties: list[Party],
        *,
        writer: str | None,
    ) -> str | None:
        """The person the record is about; InvalidContent (422) when not established.
        `writer` (an ODS code; None for the gateway) must be party to a Patient the
        resource names by reference."""
        return establish_patient(
            self.store,
            resource_type,
            resource,
            parties,
            local_systems=self._local_systems,
            writer=writer,
        )

    def facts(
        self, prepared: Prepared, *, writer: str | None, previous: SharingFacts | None
    ) -> SharingFacts:
        """What searches and sharing decisions filter on (gateway.sharing.policy)."""
        return sharing_facts(
            prepared.resource_type,
            prepared.resource,
            prepared.patient,
            prepared.parties,
            writer,
            previous,
        )

    def first_version(
        self, resource_id: str, prepared: Prepared, facts: SharingFacts
    ) -> NewResource:
        record = versioned(
            prepared.resource_type, resource_id, 1, self._clock(), prepared.resource, facts
        )
        rows = index_rows(prepared.resource_type, prepared.resource, prepared.patient)
        return NewResource(record, rows, prepared.parties)

    def insert(self, new: Sequence[NewResource]) -> None:
        """First versions, in one set of inserts."""
        self.store.insert_many(new)

    def next_version(
        self, current: StoredResource, prepared: Prepared, facts: SharingFacts
    ) -> StoredResource | None:
        """Store the version after `current`; None if another writer stored one first."""
        # A version never predates the one it replaces, even if this process's clock is
        # behind the one that wrote it: pollers rely on _lastUpdated moving forward.
        moment = max(self._clock(), current.last_updated + timedelta(microseconds=1))
        record = versioned(
            current.resource_type,
            current.id,
            current.version_id + 1,
            moment,
            prepared.resource,
            facts,
        )
        rows = index_rows(prepared.resource_type, prepared.resource, prepared.patient)
        if not self.store.replace(record, current.version_id, rows, prepared.parties):
            return None
        return record


def validated(resource_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """The resource as it will be stored, after every check; InvalidContent otherwise.

    Order: the R4 models (structure and datatypes), HL7's R4 JSON schema (required code
    bindings, the 4.0.1 wire format), what a receiver could be misled or attacked by
    (modifier extensions, invisible characters in identifiers, narrative XHTML), then the
    UK Core identifier rules.
    """
    try:
        resource = validate_structure(body, resource_type)
        schema_problems = fhir_schema.schema_issues(resource, resource_type)
        if schema_problems:
            raise ContentError(schema_problems)
        check_safe_content(resource, resource_type)
        check_uk_core(resource, resource_type)
        if resource_type == "Consent" and (problems := privacy_consent_issues(resource)):
            raise ContentError(problems, business_rule=True)
    except ContentError as error:
        raise InvalidContent(error.issues, business_rule=error.business_rule) from None
    return resource


def versioned(
    resource_type: str,
    resource_id: str,
    version_id: int,
    moment: datetime,
    resource: Mapping[str, Any],
    facts: SharingFacts | None = None,
) -> StoredResource:
    meta = dict(resource.get("meta", {}))
    meta.update(versionId=str(version_id), lastUpdated=format_instant(moment))
    content = {"resourceType": resource_type, "id": resource_id, "meta": meta}
    content.update((key, value) for key, value in resource.items() if key not in content)
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return StoredResource(resource_type, resource_id, version_id, moment, text, facts)
