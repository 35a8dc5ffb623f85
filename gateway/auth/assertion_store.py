"""Client assertion ids already used (SMART: a jti is accepted once within its lifetime).

The primary key (client_id, jti) makes recording the use the check itself: of two
processes racing with the same assertion, exactly one inserts the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.platform.schema import used_assertions


class UsedAssertions:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def record(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        """True if this is the first use of the jti for the client; False for a replay."""
        dialect_insert = (
            postgresql_insert if self._connection.dialect.name == "postgresql" else sqlite_insert
        )
        statement = (
            dialect_insert(used_assertions)
            .values(client_id=client_id, jti=jti, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["client_id", "jti"])
            # RETURNING, not rowcount: drivers differ in what rowcount says here.
            .returning(used_assertions.c.jti)
        )
        return self._connection.execute(statement).first() is not None

    def forget_expired(self, now: datetime) -> int:
        """Drop ids whose assertions have expired: they can no longer be replayed."""
        result = self._connection.execute(
            delete(used_assertions).where(used_assertions.c.expires_at < now)
        )
        return result.rowcount
