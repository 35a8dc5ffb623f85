"""Resource persistence: current versions, full history and the search index.

Every method runs inside the caller's transaction (a Connection from Database.write or
Database.read); the caller commits. Optimistic locking is a conditional UPDATE on the
version the caller read, so two writers can never both win.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, text, update

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM
from core.search.indexing import IndexRow
from core.search.query import SearchQuery
from gateway.fhir.records import (
    Party,
    SharingFacts,
    StoredResource,
    encode_parties,
    record_from_row,
)
from gateway.fhir.search.criteria import party_condition
from gateway.fhir.search.store import ResourceSearch, SearchPage, SharingFilter
from gateway.platform.schema import resource_parties, resource_versions, resources, search_index

# Re-exported: what callers of the store take from here.
__all__ = [
    "Party",
    "ResourceStore",
    "SearchPage",
    "SharingFacts",
    "SharingFilter",
    "StoredResource",
]


@dataclass(frozen=True, slots=True)
class NewResource:
    """A resource to insert, with its search index rows and its parties."""

    record: StoredResource
    rows: Sequence[IndexRow]
    parties: Sequence[Party] = ()


class ResourceStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # -- writes ---------------------------------------------------------------------

    def insert(
        self, record: StoredResource, rows: Sequence[IndexRow], parties: Sequence[Party] = ()
    ) -> None:
        self.insert_many([NewResource(record, rows, parties)])

    def insert_many(self, new: Sequence[NewResource]) -> None:
        """Several new resources in four statements, whatever their number: a handover's
        five would otherwise cost twenty round trips to PostgreSQL."""
        if not new:
            return
        self._connection.execute(
            insert(resources),
            [
                {
                    "resource_type": item.record.resource_type,
                    "id": item.record.id,
                    "version_id": item.record.version_id,
                    "last_updated": item.record.last_updated,
                    "content": item.record.content,
                    **_facts_columns(item.record.facts),
                }
                for item in new
            ],
        )
        self._add_versions([(item.record, item.parties) for item in new], "create")
        self._add_index_rows([(item.record, row) for item in new for row in item.rows])
        self._add_parties(
            [(item.record, party) for item in new for party in dict.fromkeys(item.parties)]
        )

    def replace(
        self,
        record: StoredResource,
        expected_version: int,
        rows: Sequence[IndexRow],
        parties: Sequence[Party] = (),
    ) -> bool:
        """Write a new current version if the stored one is still expected_version."""
        result = self._connection.execute(
            update(resources)
            .where(
                resources.c.resource_type == record.resource_type,
                resources.c.id == record.id,
                resources.c.version_id == expected_version,
            )
            .values(
                version_id=record.version_id,
                last_updated=record.last_updated,
                content=record.content,
                **_facts_columns(record.facts),
            )
        )
        if result.rowcount != 1:
            return False
        self._add_versions([(record, parties)], "update")
        self._connection.execute(
            delete(search_index).where(
                search_index.c.resource_type == record.resource_type,
                search_index.c.resource_id == record.id,
            )
        )
        self._add_index_rows([(record, row) for row in rows])
        self._connection.execute(
            delete(resource_parties).where(
                resource_parties.c.resource_type == record.resource_type,
                resource_parties.c.resource_id == record.id,
            )
        )
        self._add_parties([(record, party) for party in dict.fromkeys(parties)])
        return True

    def serialise_on(self, key: str) -> None:
        """Hold a transaction-scoped lock on key (conditional create must not race).

        PostgreSQL: an advisory lock, released at commit. SQLite: write transactions
        already hold the database's single write lock, so nothing more is needed.
        """
        if self._connection.dialect.name == "postgresql":
            digest = hashlib.sha256(key.encode()).digest()
            lock_id = int.from_bytes(digest[:8], "big", signed=True)
            self._connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})

    def _add_versions(
        self, records: Sequence[tuple[StoredResource, Sequence[Party]]], method: str
    ) -> None:
        """Each version with its own sharing facts and parties, kept with it for good."""
        self._connection.execute(
            insert(resource_versions),
            [
                {
                    "resource_type": record.resource_type,
                    "id": record.id,
                    "version_id": record.version_id,
                    "last_updated": record.last_updated,
                    "method": method,
                    "content": record.content,
                    **_facts_columns(record.facts),
                    "parties": encode_parties(dict.fromkeys(parties)),
                }
                for record, parties in records
            ],
        )

    def _add_index_rows(self, rows: Sequence[tuple[StoredResource, IndexRow]]) -> None:
        if not rows:
            return
        self._connection.execute(
            insert(search_index),
            [
                {
                    "resource_type": record.resource_type,
                    "resource_id": record.id,
                    "param": row.param,
                    "system": row.system,
                    "value": row.value,
                    "low": row.low,
                    "high": row.high,
                    "last_updated": record.last_updated,
                }
                for record, row in rows
            ],
        )

    def _add_parties(self, parties: Sequence[tuple[StoredResource, Party]]) -> None:
        if not parties:
            return
        self._connection.execute(
            insert(resource_parties),
            [
                {
                    "resource_type": record.resource_type,
                    "resource_id": record.id,
                    "ods_code": party.ods_code,
                    "basis": party.basis,
                }
                for record, party in parties
            ],
        )

    # -- reads ----------------------------------------------------------------------

    def parties(self, resource_type: str, resource_id: str) -> list[Party]:
        rows = self._connection.execute(
            select(resource_parties.c.ods_code, resource_parties.c.basis)
            .where(
                resource_parties.c.resource_type == resource_type,
                resource_parties.c.resource_id == resource_id,
            )
            .order_by(resource_parties.c.ods_code, resource_parties.c.basis)
        )
        return [Party(row.ods_code, row.basis) for row in rows]

    def is_party(self, resource_type: str, resource_id: str, ods_code: str) -> bool:
        return self._connection.execute(
            select(party_condition(ods_code, resource_type, resource_id))
        ).scalar_one()

    def organisation_codes(self, organization_ids: Sequence[str]) -> dict[str, set[str]]:
        """The ODS codes of Organization resources, by id (from their indexed identifier)."""
        if not organization_ids:
            return {}
        rows = self._connection.execute(
            select(search_index.c.resource_id, search_index.c.value).where(
                search_index.c.resource_type == "Organization",
                search_index.c.param == "identifier",
                search_index.c.system == ODS_ORGANISATION_SYSTEM,
                search_index.c.resource_id.in_(sorted(set(organization_ids))),
            )
        )
        codes: dict[str, set[str]] = {}
        for row in rows:
            codes.setdefault(row.resource_id, set()).add(row.value)
        return codes

    def current(self, resource_type: str, resource_id: str) -> StoredResource | None:
        row = self._connection.execute(
            select(resources).where(
                resources.c.resource_type == resource_type, resources.c.id == resource_id
            )
        ).first()
        return None if row is None else record_from_row(row)

    def version(
        self, resource_type: str, resource_id: str, version_id: int
    ) -> StoredResource | None:
        row = self._connection.execute(
            select(resource_versions).where(
                resource_versions.c.resource_type == resource_type,
                resource_versions.c.id == resource_id,
                resource_versions.c.version_id == version_id,
            )
        ).first()
        return None if row is None else record_from_row(row)

    def versions(
        self, resource_type: str, resource_id: str, *, count: int, below: int | None = None
    ) -> list[StoredResource]:
        """Versions newest first, at most count, all older than version `below`."""
        statement = (
            select(resource_versions)
            .where(
                resource_versions.c.resource_type == resource_type,
                resource_versions.c.id == resource_id,
            )
            .order_by(resource_versions.c.version_id.desc())
            .limit(count)
        )
        if below is not None:
            statement = statement.where(resource_versions.c.version_id < below)
        return [record_from_row(row) for row in self._connection.execute(statement)]

    def search(
        self,
        query: SearchQuery,
        *,
        visible_to: str | None = None,
        sharing: SharingFilter | None = None,
    ) -> SearchPage:
        """See ResourceSearch.search."""
        return ResourceSearch(self._connection).search(
            query, visible_to=visible_to, sharing=sharing
        )

    def consents_for(self, patients: Sequence[str]) -> list[StoredResource]:
        """The current Consent resources about these people (by their identifiers)."""
        if not patients:
            return []
        rows = self._connection.execute(
            select(resources)
            .where(resources.c.resource_type == "Consent", resources.c.patient.in_(set(patients)))
            .order_by(resources.c.id)
        )
        return [record_from_row(row) for row in rows]


def _facts_columns(facts: SharingFacts | None) -> dict[str, str | None]:
    if facts is None:
        return {"patient": None, "origin": None, "data_category": None}
    return {"patient": facts.patient, "origin": facts.origin, "data_category": facts.category}
