"""Subscriptions in the store: each one's current version, its owner, and how its
notifications are doing.

Every method runs inside the caller's transaction. An update is a conditional UPDATE on
the version read, so a client's change and the gateway's (a status set to error by a
delivery worker) never overwrite each other unseen.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from core.subscriptions.request import Status
from gateway.platform.schema import subscriptions


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    id: str
    owner: str  # ODS code
    owner_client: str
    version_id: int
    last_updated: datetime
    status: Status
    resource_type: str
    criteria: str  # Type?parameters
    endpoint: str
    payload: str | None
    headers: tuple[tuple[str, str], ...]
    end_at: datetime | None
    failures: int
    error: str | None
    content: str  # the FHIR JSON as served

    @property
    def headers_json(self) -> str | None:
        """The channel's headers as a notification carries them (None: none)."""
        return json.dumps([list(h) for h in self.headers]) if self.headers else None


class SubscriptionStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def insert(self, subscription: StoredSubscription) -> None:
        self._connection.execute(insert(subscriptions).values(**_columns(subscription)))

    def get(self, subscription_id: str) -> StoredSubscription | None:
        row = self._connection.execute(
            select(subscriptions).where(subscriptions.c.id == subscription_id)
        ).first()
        return None if row is None else _subscription(row._mapping)

    def replace(self, subscription: StoredSubscription, expected_version: int) -> bool:
        """Write the next version if the stored one is still `expected_version`."""
        result = self._connection.execute(
            update(subscriptions)
            .where(
                subscriptions.c.id == subscription.id,
                subscriptions.c.version_id == expected_version,
            )
            .values(**_columns(subscription))
        )
        return result.rowcount == 1

    def delete(self, subscription_id: str, expected_version: int) -> bool:
        result = self._connection.execute(
            delete(subscriptions).where(
                subscriptions.c.id == subscription_id,
                subscriptions.c.version_id == expected_version,
            )
        )
        return result.rowcount == 1

    def owned_by(self, owner: str, *, statuses: Collection[str] = ()) -> list[StoredSubscription]:
        statement = select(subscriptions).where(subscriptions.c.owner == owner)
        if statuses:
            statement = statement.where(subscriptions.c.status.in_(sorted(statuses)))
        rows = self._connection.execute(
            statement.order_by(subscriptions.c.last_updated.desc(), subscriptions.c.id)
        )
        return [_subscription(row._mapping) for row in rows]

    def count_owned_by(self, owner: str) -> int:
        return int(
            self._connection.execute(
                select(func.count())
                .select_from(subscriptions)
                .where(subscriptions.c.owner == owner)
            ).scalar_one()
        )

    def active_for(
        self, resource_types: Collection[str], now: datetime
    ) -> list[StoredSubscription]:
        """The active subscriptions to any of these types that have not ended: what a
        write is matched against (one probe of the partial index on active ones)."""
        if not resource_types:
            return []
        rows = self._connection.execute(
            select(subscriptions)
            .where(
                subscriptions.c.status == Status.ACTIVE,
                subscriptions.c.resource_type.in_(sorted(resource_types)),
                or_(subscriptions.c.end_at.is_(None), subscriptions.c.end_at > now),
            )
            .order_by(subscriptions.c.id)
        )
        return [_subscription(row._mapping) for row in rows]

    def statuses(self, subscription_ids: Collection[str]) -> dict[str, StoredSubscription]:
        """The subscriptions with these ids that still exist, by id."""
        if not subscription_ids:
            return {}
        rows = self._connection.execute(
            select(subscriptions).where(subscriptions.c.id.in_(sorted(subscription_ids)))
        )
        return {row.id: _subscription(row._mapping) for row in rows}

    def delivered(self, subscription_ids: Collection[str]) -> None:
        """A notification of each got through: no failures in a row."""
        if subscription_ids:
            self._connection.execute(
                update(subscriptions)
                .where(
                    subscriptions.c.id.in_(sorted(subscription_ids)), subscriptions.c.failures > 0
                )
                .values(failures=0)
            )

    def failed(self, subscription_id: str) -> int:
        """One more failure in a row; how many there are now (0: it no longer exists)."""
        self._connection.execute(
            update(subscriptions)
            .where(subscriptions.c.id == subscription_id)
            .values(failures=subscriptions.c.failures + 1)
        )
        found = self._connection.execute(
            select(subscriptions.c.failures).where(subscriptions.c.id == subscription_id)
        ).scalar_one_or_none()
        return int(found or 0)

    def counts(self) -> dict[str, int]:
        """How many subscriptions there are in each status."""
        rows = self._connection.execute(
            select(subscriptions.c.status, func.count()).group_by(subscriptions.c.status)
        )
        return {str(row[0]): int(row[1]) for row in rows}


def _columns(subscription: StoredSubscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "owner": subscription.owner,
        "owner_client": subscription.owner_client,
        "version_id": subscription.version_id,
        "last_updated": subscription.last_updated,
        "status": subscription.status.value,
        "resource_type": subscription.resource_type,
        "criteria": subscription.criteria,
        "endpoint": subscription.endpoint,
        "payload": subscription.payload,
        "headers": subscription.headers_json,
        "end_at": subscription.end_at,
        "failures": subscription.failures,
        "error": subscription.error,
        "content": subscription.content,
    }


def _subscription(values: Any) -> StoredSubscription:
    headers: Sequence[Sequence[str]] = json.loads(values["headers"]) if values["headers"] else ()
    return StoredSubscription(
        id=values["id"],
        owner=values["owner"],
        owner_client=values["owner_client"],
        version_id=values["version_id"],
        last_updated=values["last_updated"],
        status=Status(values["status"]),
        resource_type=values["resource_type"],
        criteria=values["criteria"],
        endpoint=values["endpoint"],
        payload=values["payload"],
        headers=tuple((str(name), str(value)) for name, value in headers),
        end_at=values["end_at"],
        failures=values["failures"],
        error=values["error"],
        content=values["content"],
    )
