"""Versioned storage on its own, with no caller, on both databases: what a version
carries, how it is indexed, and that a version never goes back in time nor wins over
one stored after its predecessor was read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection

from core.search.query import PagingLimits, parse_search
from gateway.fhir.storage import Prepared, VersionedStorage, validated
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from gateway.platform.errors import InvalidContent
from tests.builders import PATIENT_NHS_NUMBER, PROVIDER_ODS, TRUST_ODS, service_request

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
LIMITS = PagingLimits(20, 100)


def _storage(connection: Connection, now: datetime = NOW) -> VersionedStorage:
    return VersionedStorage(ResourceStore(connection), clock=lambda: now)


def _prepared(storage: VersionedStorage, body: dict[str, Any]) -> Prepared:
    resource = validated("ServiceRequest", body)
    parties = storage.parties("ServiceRequest", resource)
    patient = storage.patient("ServiceRequest", resource, parties, writer=PROVIDER_ODS)
    return Prepared("ServiceRequest", resource, parties, patient)


def _first(storage: VersionedStorage, resource_id: str, body: dict[str, Any]) -> None:
    prepared = _prepared(storage, body)
    facts = storage.facts(prepared, writer=PROVIDER_ODS, previous=None)
    storage.insert([storage.first_version(resource_id, prepared, facts)])


def test_a_first_version_is_stored_indexed_and_attributed(database: Database) -> None:
    with database.write() as connection:
        _first(_storage(connection), "sr-1", service_request())

    with database.read() as connection:
        store = ResourceStore(connection)
        record = store.current("ServiceRequest", "sr-1")
        found = store.search(parse_search("ServiceRequest", [("status", "active")], LIMITS))
        parties = store.parties("ServiceRequest", "sr-1")
    assert record is not None
    content = json.loads(record.content)
    assert content["meta"] == {"versionId": "1", "lastUpdated": "2026-11-30T12:00:00.000000Z"}
    assert (record.version_id, record.last_updated) == (1, NOW)
    assert record.facts is not None
    assert (record.facts.patient, record.facts.origin) == (PATIENT_NHS_NUMBER, PROVIDER_ODS)
    assert [match.id for match in found.matches] == ["sr-1"]
    assert {(party.ods_code, party.basis) for party in parties} == {
        (PROVIDER_ODS, "requester"),
        (TRUST_ODS, "performer"),
    }


def test_a_next_version_never_predates_the_one_it_replaces(database: Database) -> None:
    with database.write() as connection:
        _first(_storage(connection), "sr-1", service_request())
    behind = NOW - timedelta(hours=1)
    with database.write() as connection:
        storage = _storage(connection, behind)
        current = storage.store.current("ServiceRequest", "sr-1")
        assert current is not None
        prepared = _prepared(storage, service_request(status="completed"))
        facts = storage.facts(prepared, writer=None, previous=current.facts)
        record = storage.next_version(current, prepared, facts)

    assert record is not None
    assert record.version_id == 2
    assert record.last_updated == NOW + timedelta(microseconds=1)
    # The origin stands, whoever writes the next version.
    assert record.facts is not None
    assert record.facts.origin == PROVIDER_ODS


def test_a_version_read_before_another_was_stored_is_not_stored(database: Database) -> None:
    with database.write() as connection:
        _first(_storage(connection), "sr-1", service_request())
    with database.write() as connection:
        storage = _storage(connection)
        stale = storage.store.current("ServiceRequest", "sr-1")
        assert stale is not None
        prepared = _prepared(storage, service_request(status="completed"))
        facts = storage.facts(prepared, writer=PROVIDER_ODS, previous=stale.facts)
        assert storage.next_version(stale, prepared, facts) is not None
        assert storage.next_version(stale, prepared, facts) is None

    with database.read() as connection:
        versions = ResourceStore(connection).versions(
            "ServiceRequest", "sr-1", count=10, below=None
        )
    assert [version.version_id for version in versions] == [2, 1]


def test_a_person_who_cannot_be_established_is_refused_before_anything_is_stored(
    database: Database,
) -> None:
    nameless = service_request(subject={"display": "Someone"})
    with database.write() as connection:
        storage = _storage(connection)
        resource = validated("ServiceRequest", nameless)
        parties = storage.parties("ServiceRequest", resource)
        with pytest.raises(InvalidContent):
            storage.patient("ServiceRequest", resource, parties, writer=PROVIDER_ODS)


def test_content_that_is_not_valid_fhir_is_refused() -> None:
    with pytest.raises(InvalidContent):
        validated("ServiceRequest", {**service_request(), "status": "unheard-of"})
