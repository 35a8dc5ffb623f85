"""Escalation steps and the interface delays found on them (SQLAlchemy Core).

A step is open until a response stops its clock, its deadline passes (the watcher takes
it: `take`), or a later step the sender sent supersedes it. `take` is a conditional
update of the state: of several processes racing for one due step, exactly one sees
its update change a row, and acts in that same transaction. On PostgreSQL the losers'
updates wait on the winner's row lock and then find the state changed; SQLite has one
writer at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, RowMapping, func, insert, select, update

from gateway.platform.schema import escalation_steps, interface_delays

OPEN = "open"
ANSWERED = "answered"
MISSED = "missed"
SUPERSEDED = "superseded"
UNWATCHED = "unwatched"  # no deadline applies (no ladder, no respond-by ahead)


@dataclass(frozen=True, slots=True)
class Step:
    communication_id: str
    service_request_id: str
    escalation_id: str  # the first step's ServiceRequest id
    step: int  # 1 for what the sender sent; 2, 3... for step-ups
    level: str
    patient: str | None
    sender_ods: str
    receiver_ods: str
    pathway: str
    locality: str | None
    priority: str | None
    sender_client: str
    sender_role: str | None
    purpose: str
    received_at: datetime
    deadline: datetime | None
    state: str = OPEN
    answered_at: datetime | None = None
    answered_by: str | None = None
    acted_at: datetime | None = None
    acted_by: str | None = None


@dataclass(frozen=True, slots=True)
class InterfaceDelay:
    id: str
    communication_id: str
    service_request_id: str
    escalation_id: str
    step: int
    level: str
    sender_ods: str
    receiver_ods: str
    pathway: str
    locality: str | None
    priority: str | None
    deadline: datetime
    detected_at: datetime
    action: str  # step-up | notify
    responded_at: datetime | None = None


class StepStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, step: Step) -> None:
        self._connection.execute(insert(escalation_steps).values(**_step_values(step)))

    def by_communication(self, communication_id: str) -> Step | None:
        return self._one(escalation_steps.c.communication_id == communication_id)

    def by_service_request(self, service_request_id: str) -> Step | None:
        return self._one(escalation_steps.c.service_request_id == service_request_id)

    def of_escalation(self, escalation_id: str) -> list[Step]:
        """Every step of one escalation, first to last."""
        rows = self._connection.execute(
            select(escalation_steps)
            .where(escalation_steps.c.escalation_id == escalation_id)
            .order_by(escalation_steps.c.step)
        )
        return [_step(row._mapping) for row in rows]

    def due(self, now: datetime, limit: int) -> list[str]:
        """Open steps whose deadline has passed, earliest first: their Communication ids.
        Read by the (state, deadline) index, however many steps are open."""
        rows = self._connection.execute(
            select(escalation_steps.c.communication_id)
            .where(escalation_steps.c.state == OPEN, escalation_steps.c.deadline <= now)
            .order_by(escalation_steps.c.deadline)
            .limit(limit)
        )
        return [row.communication_id for row in rows]

    def next_deadline(self) -> datetime | None:
        """The earliest deadline of any open step."""
        return self._connection.execute(
            select(func.min(escalation_steps.c.deadline)).where(escalation_steps.c.state == OPEN)
        ).scalar_one_or_none()

    def open_by_receiver(self) -> dict[str, int]:
        """How many steps wait for a response, by receiving organisation."""
        rows = self._connection.execute(
            select(escalation_steps.c.receiver_ods, func.count())
            .where(escalation_steps.c.state == OPEN)
            .group_by(escalation_steps.c.receiver_ods)
        )
        return {row[0]: int(row[1]) for row in rows}

    def take(self, communication_id: str, now: datetime, worker: str) -> Step | None:
        """Mark a due open step missed, for this worker to act on; None if another
        process took it first, or a response stopped its clock."""
        changed = self._connection.execute(
            update(escalation_steps)
            .where(
                escalation_steps.c.communication_id == communication_id,
                escalation_steps.c.state == OPEN,
                escalation_steps.c.deadline <= now,
            )
            .values(state=MISSED, acted_at=now, acted_by=worker)
        )
        if changed.rowcount != 1:
            return None
        return self.by_communication(communication_id)

    def answered(self, communication_id: str, at: datetime, by: str) -> Step | None:
        """A response to the step stops its clock (the first response; a later one does
        not move when it was answered). The step as it was before, or None if it is not a
        step on a ladder."""
        before = self.by_communication(communication_id)
        if before is None or before.answered_at is not None:
            return before
        values: dict[str, object] = {"answered_at": at, "answered_by": by}
        if before.state in (OPEN, UNWATCHED):
            values["state"] = ANSWERED
        self._connection.execute(
            update(escalation_steps)
            .where(escalation_steps.c.communication_id == communication_id)
            .values(**values)
        )
        return before

    def supersede(self, communication_id: str) -> bool:
        """The sender escalated the same concern again itself: the earlier step's clock
        stops without a delay being counted. Whether it was open."""
        changed = self._connection.execute(
            update(escalation_steps)
            .where(
                escalation_steps.c.communication_id == communication_id,
                escalation_steps.c.state == OPEN,
            )
            .values(state=SUPERSEDED)
        )
        return changed.rowcount == 1

    def count_escalations(self, patient: str, sender_ods: str, since: datetime) -> int:
        """How many escalations (first steps, not step-ups) `sender_ods` sent about
        `patient` since `since`."""
        return int(
            self._connection.execute(
                select(func.count())
                .select_from(escalation_steps)
                .where(
                    escalation_steps.c.patient == patient,
                    escalation_steps.c.received_at >= since,
                    escalation_steps.c.sender_ods == sender_ods,
                    escalation_steps.c.step == 1,
                )
            ).scalar_one()
        )

    def _one(self, condition: ColumnElement[bool]) -> Step | None:
        row = self._connection.execute(select(escalation_steps).where(condition)).first()
        return _step(row._mapping) if row is not None else None


class DelayStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, delay: InterfaceDelay) -> None:
        self._connection.execute(
            insert(interface_delays).values(
                {column: getattr(delay, column) for column in _DELAY_COLUMNS}
            )
        )

    def responded(self, communication_id: str, at: datetime) -> None:
        """A late response came: when, so the delay says how late it really was."""
        self._connection.execute(
            update(interface_delays)
            .where(
                interface_delays.c.communication_id == communication_id,
                interface_delays.c.responded_at.is_(None),
            )
            .values(responded_at=at)
        )

    def counts(self) -> dict[tuple[str, str], int]:
        """Every delay recorded, by receiving organisation and what the gateway did."""
        columns = interface_delays.c
        rows = self._connection.execute(
            select(columns.receiver_ods, columns.action, func.count()).group_by(
                columns.receiver_ods, columns.action
            )
        )
        return {(row[0], row[1]): int(row[2]) for row in rows}

    def of_escalation(self, escalation_id: str) -> list[InterfaceDelay]:
        rows = self._connection.execute(
            select(interface_delays)
            .where(interface_delays.c.escalation_id == escalation_id)
            .order_by(interface_delays.c.step)
        )
        return [_delay(row._mapping) for row in rows]

    def involving(
        self,
        ods_code: str | None,
        *,
        receiver: str | None = None,
        pathway: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[InterfaceDelay]:
        """Delays between `ods_code` (as sender or receiver; None: every organisation)
        and others, newest first."""
        columns = interface_delays.c
        query = select(interface_delays)
        if ods_code is not None:
            query = query.where(
                (columns.sender_ods == ods_code) | (columns.receiver_ods == ods_code)
            )
        if receiver is not None:
            query = query.where(columns.receiver_ods == receiver)
        if pathway is not None:
            query = query.where(columns.pathway == pathway)
        if since is not None:
            query = query.where(columns.detected_at >= since)
        rows = self._connection.execute(
            query.order_by(columns.detected_at.desc(), columns.id).limit(limit)
        )
        return [_delay(row._mapping) for row in rows]


_STEP_COLUMNS: Sequence[str] = tuple(Step.__dataclass_fields__)
_DELAY_COLUMNS: Sequence[str] = tuple(InterfaceDelay.__dataclass_fields__)


def _step_values(step: Step) -> dict[str, object]:
    return {column: getattr(step, column) for column in _STEP_COLUMNS}


def _step(values: RowMapping) -> Step:
    return Step(**{column: values[column] for column in _STEP_COLUMNS})


def _delay(values: RowMapping) -> InterfaceDelay:
    return InterfaceDelay(**{column: values[column] for column in _DELAY_COLUMNS})
