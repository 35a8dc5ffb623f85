"""The tracker's rows: each safeguarding action's state beside its Task (kept in step in
the same transaction) and the partner contacts recorded against actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from gateway.platform.schema import safeguarding_actions, safeguarding_contacts

OPEN_STATUSES = ("requested", "accepted", "in-progress")


@dataclass(frozen=True, slots=True)
class ActionRow:
    task_id: str
    requester_ods: str
    owner_ods: str
    patient: str
    kind: str
    status: str
    deadline: datetime
    priority: str
    locality: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None

    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def overdue_at(self, now: datetime) -> bool:
        """Past its deadline and not completed (nor cancelled) at `now`."""
        return self.is_open() and self.deadline <= now


@dataclass(frozen=True, slots=True)
class ContactRow:
    communication_id: str
    task_id: str
    sender_ods: str
    recipient_ods: str
    kind: str
    sent_at: datetime
    recorded_at: datetime


_ACTION_COLUMNS = tuple(ActionRow.__dataclass_fields__)
_CONTACT_COLUMNS = tuple(ContactRow.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class ActionFilter:
    """Which actions: the organisation's (as owner or requester), narrowed."""

    organisation: str
    owner: str | None = None
    patient: str | None = None
    state: str | None = None  # open | overdue | completed
    now: datetime | None = None
    limit: int = 100


class ActionStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, action: ActionRow) -> None:
        self._connection.execute(
            insert(safeguarding_actions).values(
                {column: getattr(action, column) for column in _ACTION_COLUMNS}
            )
        )

    def get(self, task_id: str) -> ActionRow | None:
        row = self._connection.execute(
            select(safeguarding_actions).where(safeguarding_actions.c.task_id == task_id)
        ).first()
        return None if row is None else _action(row._mapping)

    def moved(self, task_id: str, status: str, now: datetime) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "completed":
            values["completed_at"] = now
        self._connection.execute(
            update(safeguarding_actions)
            .where(safeguarding_actions.c.task_id == task_id)
            .values(values)
        )

    def find(self, where: ActionFilter) -> list[ActionRow]:
        """The organisation's actions, soonest deadline first, at most `limit`."""
        table = safeguarding_actions
        query = select(table).where(
            or_(
                table.c.owner_ods == where.organisation, table.c.requester_ods == where.organisation
            )
        )
        if where.owner is not None:
            query = query.where(table.c.owner_ods == where.owner)
        if where.patient is not None:
            query = query.where(table.c.patient == where.patient)
        if where.state == "open":
            query = query.where(table.c.status.in_(OPEN_STATUSES))
        elif where.state == "overdue" and where.now is not None:
            query = query.where(table.c.status.in_(OPEN_STATUSES), table.c.deadline <= where.now)
        elif where.state == "completed":
            query = query.where(table.c.status == "completed")
        rows = self._connection.execute(
            query.order_by(table.c.deadline, table.c.task_id).limit(where.limit)
        )
        return [_action(row._mapping) for row in rows]

    def for_week(self, organisation: str, start: datetime, end: datetime) -> list[ActionRow]:
        """The organisation's actions that were open at some time in [start, end): raised
        before its end and neither finished before its start."""
        table = safeguarding_actions
        rows = self._connection.execute(
            select(table)
            .where(
                or_(table.c.owner_ods == organisation, table.c.requester_ods == organisation),
                table.c.created_at < end,
                or_(
                    table.c.status.in_(OPEN_STATUSES),
                    and_(table.c.status == "completed", table.c.completed_at >= start),
                    and_(table.c.status == "cancelled", table.c.updated_at >= start),
                ),
            )
            .order_by(table.c.deadline, table.c.task_id)
        )
        return [_action(row._mapping) for row in rows]

    def add_contact(self, contact: ContactRow) -> None:
        self._connection.execute(
            insert(safeguarding_contacts).values(
                {column: getattr(contact, column) for column in _CONTACT_COLUMNS}
            )
        )

    def contacts_in(self, organisation: str, start: datetime, end: datetime) -> list[ContactRow]:
        """Contacts made in [start, end) on actions the organisation is party to."""
        contacts, actions = safeguarding_contacts, safeguarding_actions
        rows = self._connection.execute(
            select(contacts)
            .join(actions, actions.c.task_id == contacts.c.task_id)
            .where(
                or_(
                    actions.c.owner_ods == organisation,
                    actions.c.requester_ods == organisation,
                ),
                contacts.c.sent_at >= start,
                contacts.c.sent_at < end,
            )
            .order_by(contacts.c.sent_at, contacts.c.communication_id)
        )
        return [_contact(row._mapping) for row in rows]


def _action(values: Any) -> ActionRow:
    return ActionRow(**{column: values[column] for column in _ACTION_COLUMNS})


def _contact(values: Any) -> ContactRow:
    return ContactRow(**{column: values[column] for column in _CONTACT_COLUMNS})
