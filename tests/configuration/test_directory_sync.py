"""The start-up sync of the directory on its own, on both databases: one Organization per
configured ODS code, the oldest row made for it kept, every other row retired."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from core.fhir.organisations import organization_resource
from core.search.query import PagingLimits
from gateway.configuration.directory_store import organization_rows
from gateway.configuration.directory_sync import RETIRED, SyncReport, sync_organisations
from gateway.configuration.models import Organisation
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from tests.builders import ODS

TRUST = Organisation(ods="RZZ", name="The Trust", role="trust")
PROVIDER = Organisation(ods="AZZ", name="The Provider", role="provider")


def _ticks() -> Iterator[datetime]:
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    while True:
        moment += timedelta(seconds=1)
        yield moment


TICKS = _ticks()


def _service(connection: Any) -> ResourceService:
    return ResourceService(
        ResourceStore(connection), PagingLimits(20, 100), clock=lambda: next(TICKS)
    )


def _sync(database: Database, *organisations: Organisation) -> SyncReport:
    with database.write() as connection:
        return sync_organisations(
            _service(connection), organization_rows(connection), organisations
        )


def _stored(database: Database) -> dict[str, dict[str, Any]]:
    with database.read() as connection:
        return {
            row.current.id: json.loads(row.current.content) for row in organization_rows(connection)
        }


def _written(database: Database, code: str, name: str) -> str:
    """An Organization as a client could once write one."""
    with database.write() as connection:
        body = {"resourceType": "Organization", "identifier": [{"system": ODS, "value": code}],
                "name": name}  # fmt: skip
        return _service(connection).create("Organization", body).record.id


def _content(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in resource.items() if key not in ("id", "meta")}


def test_the_first_sync_creates_the_directory_and_the_next_changes_nothing(
    database: Database,
) -> None:
    assert _sync(database, TRUST, PROVIDER) == SyncReport(2, 0, 0, 0)
    first = _stored(database)
    assert _sync(database, TRUST, PROVIDER) == SyncReport(0, 0, 2, 0)
    assert _stored(database) == first
    assert sorted(_content(r)["name"] for r in first.values()) == ["The Provider", "The Trust"]


def test_the_oldest_row_made_for_a_code_is_kept_and_every_other_retired(
    database: Database,
) -> None:
    _sync(database, TRUST, PROVIDER)
    (trust_id,) = [i for i, r in _stored(database).items() if r["name"] == "The Trust"]
    duplicate = _written(database, "RZZ", "Also the Trust")
    stranger = _written(database, "QQQ", "Nobody configured")

    assert _sync(database, TRUST, PROVIDER) == SyncReport(0, 0, 2, 2)

    stored = _stored(database)
    assert _content(stored[trust_id]) == organization_resource("RZZ", "The Trust")
    assert _content(stored[duplicate]) == RETIRED
    assert _content(stored[stranger]) == RETIRED


def test_a_row_made_before_its_organisation_was_configured_becomes_the_directorys(
    database: Database,
) -> None:
    _sync(database, TRUST)
    early = _written(database, "AZZ", "Written before AZZ joined")

    assert _sync(database, TRUST, PROVIDER) == SyncReport(0, 1, 1, 0)

    assert _content(_stored(database)[early]) == organization_resource("AZZ", "The Provider")


def test_an_organisation_taken_out_of_the_directory_is_retired(database: Database) -> None:
    _sync(database, TRUST, PROVIDER)

    assert _sync(database, TRUST) == SyncReport(0, 0, 1, 1)

    names = sorted(_content(r)["name"] for r in _stored(database).values())
    assert names == [RETIRED["name"], "The Trust"]
