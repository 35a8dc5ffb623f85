"""The store on its own, on both databases: versions, locking, and races."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from core.search.indexing import index_rows
from core.search.query import PagingLimits, parse_search
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.platform.database import Database
from gateway.platform.errors import MultipleMatches
from tests.builders import PATIENT_NHS_NUMBER, patient, service_request

LIMITS = PagingLimits(20, 100)
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _record(version: int, status: str = "active") -> StoredResource:
    body = {"resourceType": "ServiceRequest", "id": "sr-1", **service_request(status=status)}
    return StoredResource("ServiceRequest", "sr-1", version, NOW, json.dumps(body))


def test_replace_only_succeeds_against_the_version_it_read(database: Database) -> None:
    rows = index_rows("ServiceRequest", service_request())
    with database.write() as connection:
        ResourceStore(connection).insert(_record(1), rows)
    with database.write() as connection:
        store = ResourceStore(connection)
        assert store.replace(_record(2, "completed"), expected_version=1, rows=rows)
        assert not store.replace(_record(2, "revoked"), expected_version=1, rows=rows)
    with database.read() as connection:
        current = ResourceStore(connection).current("ServiceRequest", "sr-1")
        versions = ResourceStore(connection).versions("ServiceRequest", "sr-1", count=10)
    assert current is not None
    assert json.loads(current.content)["status"] == "completed"
    assert [v.version_id for v in versions] == [2, 1]


def test_an_update_replaces_the_search_index_rows(database: Database) -> None:
    with database.write() as connection:
        ResourceStore(connection).insert(
            _record(1), index_rows("ServiceRequest", service_request())
        )
    changed = service_request(status="completed")
    with database.write() as connection:
        ResourceStore(connection).replace(
            _record(2, "completed"), 1, index_rows("ServiceRequest", changed)
        )
    with database.read() as connection:
        service = ResourceService(ResourceStore(connection), LIMITS)
        active = service.search(parse_search("ServiceRequest", [("status", "active")], LIMITS))
        done = service.search(parse_search("ServiceRequest", [("status", "completed")], LIMITS))
    assert active.total == 0
    assert done.total == 1


def test_a_failed_transaction_leaves_nothing_behind(database: Database) -> None:
    try:
        with database.write() as connection:
            ResourceStore(connection).insert(
                _record(1), index_rows("ServiceRequest", service_request())
            )
            raise RuntimeError("abandon")
    except RuntimeError:
        pass
    with database.read() as connection:
        assert ResourceStore(connection).current("ServiceRequest", "sr-1") is None


def test_concurrent_conditional_creates_make_exactly_one_resource(database: Database) -> None:
    """Eight writers race to conditionally create the same patient: one creates it and
    every other one finds it (the lock makes the check-then-insert atomic)."""
    condition = f"identifier=https://fhir.nhs.uk/Id/nhs-number|{PATIENT_NHS_NUMBER}"
    outcomes: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        try:
            barrier.wait()
            with database.write() as connection:
                service = ResourceService(ResourceStore(connection), LIMITS)
                outcomes.append(
                    service.create("Patient", patient(), if_none_exist=condition).created
                )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sorted(outcomes) == [False] * 7 + [True]
    with database.read() as connection:
        service = ResourceService(ResourceStore(connection), LIMITS)
        found = service.search(
            parse_search("Patient", [("identifier", PATIENT_NHS_NUMBER)], LIMITS)
        )
    assert found.total == 1


def test_concurrent_updates_never_lose_a_version(database: Database) -> None:
    with database.write() as connection:
        created = ResourceService(ResourceStore(connection), LIMITS).create(
            "ServiceRequest", service_request()
        )
    resource_id = created.record.id
    results: list[str] = []
    barrier = threading.Barrier(6)

    def update(status: str) -> None:
        barrier.wait()
        try:
            with database.write() as connection:
                service = ResourceService(ResourceStore(connection), LIMITS)
                body = {**service_request(status=status), "id": resource_id}
                service.update("ServiceRequest", resource_id, body, if_match=1)
            results.append("ok")
        except Exception as error:  # the refusal is what we count
            results.append(type(error).__name__)

    threads = [threading.Thread(target=update, args=(s,)) for s in ["on-hold", "completed"] * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results.count("ok") == 1
    assert results.count("PreconditionFailed") == 5
    with database.read() as connection:
        versions = ResourceStore(connection).versions("ServiceRequest", resource_id, count=10)
    assert [v.version_id for v in versions] == [2, 1]


def test_conditional_create_refuses_when_several_match(database: Database) -> None:
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), LIMITS)
        service.create("Patient", patient())
        service.create("Patient", patient())
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), LIMITS)
        try:
            service.create("Patient", patient(), if_none_exist=f"identifier={PATIENT_NHS_NUMBER}")
        except MultipleMatches:
            pass
        else:
            raise AssertionError("expected MultipleMatches")


def test_an_update_is_never_stamped_before_the_version_it_replaces(database: Database) -> None:
    """Two processes with skewed clocks: the second one's clock is an hour behind."""
    with database.write() as connection:
        created = ResourceService(ResourceStore(connection), LIMITS, clock=lambda: NOW).create(
            "ServiceRequest", service_request()
        )
    behind = NOW.replace(hour=NOW.hour - 1)
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), LIMITS, clock=lambda: behind)
        body = {**service_request(status="completed"), "id": created.record.id}
        updated = service.update("ServiceRequest", created.record.id, body)
    assert updated.last_updated > created.record.last_updated
