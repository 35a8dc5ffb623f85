"""Fixtures the store's fault tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.platform.database import Database
from tests.faults import empty_store


@pytest.fixture
def postgres(postgresql_url: str) -> Iterator[Database]:
    """A migrated, empty PostgreSQL store of this test's own, disposed afterwards."""
    database = empty_store(postgresql_url)
    try:
        yield database
    finally:
        database.dispose()
