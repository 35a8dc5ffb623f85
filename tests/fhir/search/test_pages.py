"""Page references of POST searches, on both databases, with a clock the test moves:
kept for the configured time, bound to their client and type, only a digest stored, and
removed as long again after they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.fhir.search.page_store import SearchPageStore
from gateway.fhir.search.pages import PageReferences
from gateway.platform.database import Database
from gateway.platform.errors import Gone, NotFound
from gateway.platform.schema import search_pages

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIFETIME = timedelta(minutes=15)
PARAMETERS = (("subject:identifier", "https://fhir.nhs.uk/Id/nhs-number|9434765919"),)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _remember(database: Database, clock: Clock, client_id: str = "trust") -> str:
    with database.write() as connection:
        pages = PageReferences(
            SearchPageStore(connection), client_id, lifetime=LIFETIME, clock=clock
        )
        return pages.remember("ServiceRequest", PARAMETERS)


def _recall(
    database: Database,
    clock: Clock,
    reference: str,
    client_id: str = "trust",
    resource_type: str = "ServiceRequest",
) -> tuple[tuple[str, str], ...]:
    with database.read() as connection:
        pages = PageReferences(
            SearchPageStore(connection), client_id, lifetime=LIFETIME, clock=clock
        )
        return pages.recall(resource_type, reference)


def test_a_search_is_recalled_by_its_reference_until_it_expires(database: Database) -> None:
    clock = Clock()
    reference = _remember(database, clock)

    clock.now = START + LIFETIME - timedelta(microseconds=1)
    assert _recall(database, clock, reference) == PARAMETERS
    clock.now = START + LIFETIME
    with pytest.raises(Gone) as expired:
        _recall(database, clock, reference)
    assert expired.value.status == 410
    assert "15 minutes" in expired.value.message


def test_a_reference_is_the_searching_clients_and_for_its_type(database: Database) -> None:
    clock = Clock()
    reference = _remember(database, clock)

    for client_id, resource_type in (("provider", "ServiceRequest"), ("trust", "Communication")):
        with pytest.raises(NotFound) as refused:
            _recall(database, clock, reference, client_id, resource_type)
        assert refused.value.expression == "_page"
    with pytest.raises(NotFound):
        _recall(database, clock, reference + "x")


def test_references_are_unguessable_and_only_their_digest_is_stored(database: Database) -> None:
    clock = Clock()
    references = {_remember(database, clock) for _ in range(20)}

    assert len(references) == 20
    assert all(len(reference) >= 32 for reference in references)
    with database.read() as connection:
        stored = set(connection.execute(select(search_pages.c.reference_sha256)).scalars())
    assert len(stored) == 20
    assert not stored & references


def test_an_expired_search_is_removed_once_as_long_again_has_passed(database: Database) -> None:
    clock = Clock()
    old = _remember(database, clock)

    clock.now = START + 2 * LIFETIME - timedelta(seconds=1)
    _remember(database, clock)
    with pytest.raises(Gone):
        _recall(database, clock, old)

    clock.now = START + 3 * LIFETIME
    _remember(database, clock)
    with pytest.raises(NotFound):
        _recall(database, clock, old)
    with database.read() as connection:
        assert len(connection.execute(select(search_pages)).all()) == 2
