"""The searches POST _search made, by the SHA-256 of their page reference."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from gateway.platform.schema import search_pages


@dataclass(frozen=True, slots=True)
class SavedSearch:
    reference_sha256: str
    client_id: str
    resource_type: str
    parameters: tuple[tuple[str, str], ...]
    created_at: datetime
    expires_at: datetime


class SearchPageStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def save(self, search: SavedSearch) -> None:
        self._connection.execute(
            insert(search_pages).values(
                reference_sha256=search.reference_sha256,
                client_id=search.client_id,
                resource_type=search.resource_type,
                parameters=json.dumps([list(pair) for pair in search.parameters]),
                created_at=search.created_at,
                expires_at=search.expires_at,
            )
        )

    def find(self, reference_sha256: str) -> SavedSearch | None:
        row = self._connection.execute(
            select(search_pages).where(search_pages.c.reference_sha256 == reference_sha256)
        ).first()
        if row is None:
            return None
        parameters = tuple((str(name), str(value)) for name, value in json.loads(row.parameters))
        return SavedSearch(
            row.reference_sha256,
            row.client_id,
            row.resource_type,
            parameters,
            row.created_at,
            row.expires_at,
        )

    def forget_expired_before(self, moment: datetime) -> int:
        result = self._connection.execute(
            delete(search_pages).where(search_pages.c.expires_at < moment)
        )
        return result.rowcount
