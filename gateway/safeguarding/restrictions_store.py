"""The restrictions table: each restriction Flag's current dates and state, written in
the transaction that writes its version, for searches and the time-limit deadline.

The Flag is the record; this row is its index and its clock. Who may see a row is not
decided here: searches take the caller's candidate rows (author, or party to the Flag)
and the service reads each Flag through the FHIR read path, where consent and the
agreements decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from core.safeguarding.restrictions import Restriction
from gateway.platform.schema import resource_parties, restrictions

ACTIVE = "active"
ENDED = "ended"
StateFilter = Literal["active", "overdue-review", "ended"]


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    author: str
    patient: str
    state: str
    start: datetime
    time_limit: datetime
    review_due: datetime | None
    version_id: int


def _values(restriction: Restriction, version_id: int) -> dict[str, Any]:
    return {
        "author": restriction.author.ods,
        "patient": restriction.patient.nhs_number,
        "kind": restriction.kind,
        "state": ACTIVE if restriction.status == "active" else ENDED,
        "start": restriction.start,
        "time_limit": restriction.time_limit,
        "review_due": restriction.review_date,
        "last_review_at": restriction.last_reviewed_at,
        "ended_at": restriction.ended_at,
        "end_reason": restriction.end_reason,
        "version_id": version_id,
    }


class RestrictionStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, restriction: Restriction, version_id: int) -> None:
        self._connection.execute(
            insert(restrictions).values(id=restriction.id, **_values(restriction, version_id))
        )

    def replace(self, restriction: Restriction, version_id: int) -> None:
        self._connection.execute(
            update(restrictions)
            .where(restrictions.c.id == restriction.id)
            .values(**_values(restriction, version_id))
        )

    def row(self, restriction_id: str) -> Row | None:
        found = self._connection.execute(
            select(*_ROW_COLUMNS).where(restrictions.c.id == restriction_id)
        ).first()
        return Row(*found) if found is not None else None

    def candidates(
        self,
        ods_code: str,
        *,
        now: datetime,
        patient: str | None = None,
        state: StateFilter | None = None,
        longer_than: timedelta | None = None,
        limit: int = 100,
    ) -> list[str]:
        """Ids of the restrictions `ods_code` authored or is party to that match, newest
        first; the caller still reads each through the FHIR read path."""
        party = select(resource_parties.c.resource_id).where(
            resource_parties.c.resource_type == "Flag", resource_parties.c.ods_code == ods_code
        )
        query = select(restrictions.c.id, restrictions.c.start, restrictions.c.ended_at).where(
            or_(restrictions.c.author == ods_code, restrictions.c.id.in_(party))
        )
        if patient is not None:
            query = query.where(restrictions.c.patient == patient)
        if state == "active":
            query = query.where(restrictions.c.state == ACTIVE)
        elif state == "ended":
            query = query.where(restrictions.c.state == ENDED)
        elif state == "overdue-review":
            query = query.where(restrictions.c.state == ACTIVE, restrictions.c.review_due < now)
        if longer_than is not None:
            # In force longer than the threshold: started before now - threshold (and, if
            # ended, it ran longer than the threshold: checked below, in Python, as date
            # arithmetic differs between the databases).
            query = query.where(restrictions.c.start < now - longer_than)
        rows = self._connection.execute(
            query.order_by(restrictions.c.start.desc(), restrictions.c.id).limit(limit)
        )
        return [
            row.id
            for row in rows
            if longer_than is None or row.ended_at is None or row.ended_at - row.start > longer_than
        ]

    # -- the time-limit deadline (gateway.safeguarding.restriction_expiry) --------------------

    def due_expiry(self, now: datetime, limit: int) -> list[str]:
        rows = self._connection.execute(
            select(restrictions.c.id)
            .where(restrictions.c.state == ACTIVE, restrictions.c.time_limit <= now)
            .order_by(restrictions.c.time_limit)
            .limit(limit)
        )
        return [row.id for row in rows]

    def next_expiry(self) -> datetime | None:
        earliest: datetime | None = self._connection.execute(
            select(func.min(restrictions.c.time_limit)).where(restrictions.c.state == ACTIVE)
        ).scalar_one_or_none()
        return earliest

    def take_expired(self, restriction_id: str, now: datetime, worker: str) -> Row | None:
        """Mark one active restriction past its time limit as ended by `worker`: exactly one
        process does (a conditional update); None if another did, or a review came first."""
        changed = self._connection.execute(
            update(restrictions)
            .where(
                and_(
                    restrictions.c.id == restriction_id,
                    restrictions.c.state == ACTIVE,
                    restrictions.c.time_limit <= now,
                )
            )
            .values(state=ENDED, expired_by=worker)
        )
        if changed.rowcount != 1:
            return None
        return self.row(restriction_id)


_ROW_COLUMNS = (
    restrictions.c.id,
    restrictions.c.author,
    restrictions.c.patient,
    restrictions.c.state,
    restrictions.c.start,
    restrictions.c.time_limit,
    restrictions.c.review_due,
    restrictions.c.version_id,
)
