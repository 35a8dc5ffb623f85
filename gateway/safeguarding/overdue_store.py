"""Safeguarding deadlines (SQLAlchemy Core): each level an overdue record has reached.

A row is open until the work is done (`met`), or its deadline passes and the watcher
takes it (`take`: a conditional update of the state, so of several processes racing
for one due row exactly one changes it and acts in that same transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, RowMapping, func, insert, select, update

from gateway.platform.schema import safeguarding_deadlines as table

OPEN = "open"
MET = "met"
MISSED = "missed"


@dataclass(frozen=True, slots=True)
class SafeguardingDeadline:
    id: str
    kind: str  # action | review
    record_type: str
    record_id: str
    title: str
    patient: str
    owner_ods: str
    told: str  # ODS codes, space-separated
    on_behalf_ods: str
    on_behalf_client: str
    on_behalf_role: str | None
    purpose: str
    locality: str | None
    priority: str | None
    level: str
    due_at: datetime
    deadline: datetime
    opened_at: datetime
    state: str = OPEN
    met_at: datetime | None = None
    acted_at: datetime | None = None
    acted_by: str | None = None
    action: str | None = None
    notice_id: str | None = None

    @property
    def record(self) -> str:
        return f"{self.record_type}/{self.record_id}"


class DeadlineStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, row: SafeguardingDeadline) -> None:
        self._connection.execute(
            insert(table).values({column: getattr(row, column) for column in _COLUMNS})
        )

    def met(self, record_type: str, record_id: str, kind: str, at: datetime) -> bool:
        """The work is done: every open row of the record's `kind` stops. Whether any
        was open."""
        changed = self._connection.execute(
            update(table)
            .where(
                table.c.record_type == record_type,
                table.c.record_id == record_id,
                table.c.kind == kind,
                table.c.state == OPEN,
            )
            .values(state=MET, met_at=at)
        )
        return changed.rowcount > 0

    def due(self, now: datetime, limit: int) -> list[str]:
        """Open rows whose deadline has passed, earliest first (by the state, deadline
        index, however many are open)."""
        rows = self._connection.execute(
            select(table.c.id)
            .where(table.c.state == OPEN, table.c.deadline <= now)
            .order_by(table.c.deadline)
            .limit(limit)
        )
        return [row.id for row in rows]

    def next_deadline(self) -> datetime | None:
        return self._connection.execute(
            select(func.min(table.c.deadline)).where(table.c.state == OPEN)
        ).scalar_one_or_none()

    def take(self, row_id: str, now: datetime, worker: str) -> SafeguardingDeadline | None:
        """Mark a due open row missed, for this worker to act on; None if another process
        took it first, or the work was done meanwhile."""
        changed = self._connection.execute(
            update(table)
            .where(table.c.id == row_id, table.c.state == OPEN, table.c.deadline <= now)
            .values(state=MISSED, acted_at=now, acted_by=worker)
        )
        if changed.rowcount != 1:
            return None
        return self._one(table.c.id == row_id)

    def acted(self, row_id: str, action: str, notice_id: str | None) -> None:
        self._connection.execute(
            update(table).where(table.c.id == row_id).values(action=action, notice_id=notice_id)
        )

    def of_record(self, record_type: str, record_id: str) -> list[SafeguardingDeadline]:
        """Every row of one record, in the order they opened."""
        rows = self._connection.execute(
            select(table)
            .where(table.c.record_type == record_type, table.c.record_id == record_id)
            .order_by(table.c.opened_at, table.c.deadline)
        )
        return [_row(row._mapping) for row in rows]

    def missed_involving(
        self, ods_code: str | None, *, since: datetime | None = None, limit: int = 100
    ) -> list[SafeguardingDeadline]:
        """Missed rows where `ods_code` is the owner or was owed the work (None: every
        organisation), newest first."""
        query = select(table).where(table.c.state == MISSED)
        if ods_code is not None:
            query = query.where(
                (table.c.owner_ods == ods_code) | (table.c.on_behalf_ods == ods_code)
            )
        if since is not None:
            query = query.where(table.c.acted_at >= since)
        rows = self._connection.execute(
            query.order_by(table.c.acted_at.desc(), table.c.id).limit(limit)
        )
        return [_row(row._mapping) for row in rows]

    def _one(self, condition: ColumnElement[bool]) -> SafeguardingDeadline | None:
        row = self._connection.execute(select(table).where(condition)).first()
        return _row(row._mapping) if row is not None else None


_COLUMNS: Sequence[str] = tuple(SafeguardingDeadline.__dataclass_fields__)


def _row(values: RowMapping) -> SafeguardingDeadline:
    return SafeguardingDeadline(**{column: values[column] for column in _COLUMNS})
