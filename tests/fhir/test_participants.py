"""Which organisations a resource concerns, as the access log indexes its events: the
origin and the parties of the version named, or of the current one, on both databases."""

from __future__ import annotations

from core.search.query import PagingLimits
from gateway.fhir.participants import Organisations, organisations_of
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from tests.builders import ods_reference, service_request


def test_a_version_is_looked_up_as_it_was_and_a_bare_id_as_it_is_now(
    database: Database,
) -> None:
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), PagingLimits(20, 100))
        first = service.create("ServiceRequest", service_request()).record
        body = {**service_request(performer=[ods_reference("R1A")]), "id": first.id}
        service.update("ServiceRequest", first.id, body)

    with database.read() as connection:
        found = organisations_of(
            connection,
            [
                ("ServiceRequest", first.id, 1),
                ("ServiceRequest", first.id, 2),
                ("ServiceRequest", first.id, None),
                ("ServiceRequest", "not-stored", None),
                ("ServiceRequest", "not-stored", 1),
                ("AuditEvent", first.id, None),
            ],
        )

    # The requester AZZ is the origin and a party; the performer, a party.
    assert found[("ServiceRequest", first.id, 1)] == Organisations("AZZ", {"AZZ", "RZZ"})
    assert found[("ServiceRequest", first.id, 2)] == Organisations("AZZ", {"AZZ", "R1A"})
    assert found[("ServiceRequest", first.id, None)] == Organisations("AZZ", {"AZZ", "R1A"})
    assert found[("ServiceRequest", "not-stored", None)] == Organisations()
    assert found[("ServiceRequest", "not-stored", 1)] == Organisations()
    assert found[("AuditEvent", first.id, None)] == Organisations()


def test_many_resources_are_looked_up_in_chunks(database: Database) -> None:
    with database.write() as connection:
        service = ResourceService(ResourceStore(connection), PagingLimits(20, 100))
        ids = [service.create("ServiceRequest", service_request()).record.id for _ in range(3)]
    keys = [("ServiceRequest", id_, version) for id_ in ids for version in (1, None)]
    keys += [("ServiceRequest", f"missing-{n}", None) for n in range(700)]

    with database.read() as connection:
        found = organisations_of(connection, keys)

    stored = Organisations("AZZ", {"AZZ", "RZZ"})
    assert all(found[("ServiceRequest", id_, v)] == stored for id_ in ids for v in (1, None))
    assert len(found) == len(keys)
