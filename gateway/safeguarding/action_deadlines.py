"""An action's deadline on the shared overdue clock (gateway.safeguarding.overdue): its
clock starts when it is raised and stops when it is completed or cancelled; in between
the deadline watcher escalates it along the owner's safeguarding ladder, records the
interface delay and tells the requester."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from core.fhir.dates import format_instant
from gateway.auth.caller import Caller
from gateway.platform.clock import Clock, utc_now
from gateway.safeguarding.overdue import OverdueClock, Watched
from gateway.safeguarding.store import ActionRow
from gateway.sharing.requester import Requester

KIND = "action"
RECORD_TYPE = "Task"


class ActionDeadlines:
    def __init__(self, connection: Connection, *, clock: Clock = utc_now) -> None:
        self._clock = OverdueClock(connection, clock=clock)

    def watch(self, action: ActionRow, caller: Caller, title: str) -> None:
        """Start the action's clock: its requester (the caller) is owed the work, so the
        notices are written on its behalf and it is told, as the owner is."""
        self._clock.watch(
            Watched(
                kind=KIND,
                record_type=RECORD_TYPE,
                record_id=action.task_id,
                patient=action.patient,
                owner_ods=action.owner_ods,
                told=(action.requester_ods,),
                on_behalf=Requester.of_caller(caller),
                locality=action.locality,
                priority=action.priority,
                due_at=action.deadline,
                title=title,
            )
        )

    def stop(self, task_id: str, at: datetime) -> None:
        self._clock.met(RECORD_TYPE, task_id, KIND, at=at)

    def missed(self, task_id: str) -> list[dict[str, Any]]:
        """Each ladder level at which the action was found overdue, first to last."""
        return [
            {
                "level": missed.level,
                "deadline": format_instant(missed.deadline, fixed_width=False),
                "detected_at": format_instant(missed.detected_at, fixed_width=False),
                "action": missed.action,
                "notice": missed.notice,
            }
            for missed in self._clock.overdue(RECORD_TYPE, task_id)
        ]

    def delays(self, ods_code: str | None, since: datetime | None) -> list[dict[str, Any]]:
        """Every safeguarding level missed involving `ods_code` (None: everyone's)."""
        return self._clock.missed_involving(ods_code, since=since)
