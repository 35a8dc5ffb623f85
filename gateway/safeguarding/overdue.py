"""Safeguarding work not done by its deadline, escalated along the owner's ladder.

A feature that keeps a safeguarding deadline (an action's, a restriction's review date)
starts its clock with `OverdueClock.watch` in the transaction that stores the record, and
stops it with `met` in the one that records the work done. The watcher
(gateway.platform.deadlines) acts on a deadline that passes with the clock running
(`OverdueSafeguarding`), in one transaction taken by exactly one process:
- the missed level is recorded as such (the interface delay, with when and by whom it
  was found);
- if the owner's safeguarding ladder (ladders.yaml, pathway `safeguarding`, the owner as
  receiver) has a level above, a new deadline opens there, the level's time for the
  work's priority from now;
- a notice (a Communication about the record) tells the owner and whoever is owed the
  work whom it has reached and by when, or, at the top of the ladder or with no ladder,
  that nothing is left to climb and whom to call. It is written on behalf of the
  organisation owed the work, so the sharing policy decides it as that organisation's:
  if the owner may no longer be told, only the organisation on whose behalf it is
  written is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from consent.purposes import Purpose
from core.access_log.event import AuditedClient, AuditOutcome, EventKind
from core.codes.audit import Subtype
from core.fhir.dates import format_instant
from core.handover.dataset import Priority
from core.safeguarding.overdue_notice import Reached, overdue_notice, overdue_text
from gateway.access_log import log as audit_log
from gateway.access_log.trail import AccessTrail, Who
from gateway.configuration.ladders import PRIORITIES, Ladder, LadderLevel
from gateway.configuration.models import GatewayConfig
from gateway.fhir.gateway_writes import gateway_service
from gateway.fhir.writes import FhirWrites
from gateway.handovers.ladder import level_name
from gateway.platform.clock import IdSource, new_id, utc_now
from gateway.platform.deadlines import Acted
from gateway.platform.errors import SharingRefused
from gateway.platform.logging import get_logger
from gateway.safeguarding.overdue_store import (
    MISSED,
    OPEN,
    DeadlineStore,
    SafeguardingDeadline,
)
from gateway.sharing.requester import Requester

log = get_logger(__name__)

PATHWAY = "safeguarding"
FIRST_LEVEL = "front-line"
STEP_UP = "step-up"
NOTIFY = "notify"


@dataclass(frozen=True, slots=True)
class Watched:
    """A record with a safeguarding deadline, as the feature that stores it knows it."""

    kind: str  # action | review
    record_type: str
    record_id: str
    patient: str  # the person's NHS number
    owner_ods: str  # who must act: whose ladder it climbs
    told: tuple[str, ...]  # who else is told when it is overdue
    on_behalf: Requester  # who is owed the work: the notices are written as theirs
    locality: str | None
    priority: str | None  # a ladder priority: emergency | very-urgent | urgent | routine
    due_at: datetime
    title: str  # what the work is, as the notice names it (no patient data)


@dataclass(frozen=True, slots=True)
class MissedLevel:
    """One level at which the work was overdue, and what the gateway did."""

    level: str
    deadline: datetime
    detected_at: datetime
    action: str | None  # step-up | notify
    notice: str | None  # Communication/<id>


class OverdueClock:
    """Starts and stops a record's clock, in the caller's write transaction."""

    def __init__(
        self,
        connection: Connection,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: IdSource = new_id,
    ) -> None:
        self._store = DeadlineStore(connection)
        self._clock = clock
        self._new_id = new_id

    def watch(self, watched: Watched) -> None:
        """Start (or restart, after a review moves the date) the record's clock for
        `watched.kind`: the work is the owner's front line's until its deadline."""
        opened_at = self._clock()
        self._store.met(watched.record_type, watched.record_id, watched.kind, opened_at)
        requester = watched.on_behalf
        self._store.add(
            SafeguardingDeadline(
                id=self._new_id(),
                kind=watched.kind,
                record_type=watched.record_type,
                record_id=watched.record_id,
                title=watched.title[:200],
                patient=watched.patient,
                owner_ods=watched.owner_ods,
                told=" ".join(dict.fromkeys(watched.told)),
                on_behalf_ods=requester.organisation,
                on_behalf_client=requester.client_id,
                on_behalf_role=requester.role,
                purpose=requester.purpose.value,
                locality=watched.locality,
                priority=watched.priority,
                level=FIRST_LEVEL,
                due_at=watched.due_at,
                deadline=watched.due_at,
                opened_at=opened_at,
            )
        )

    def met(self, record_type: str, record_id: str, kind: str, *, at: datetime) -> bool:
        """The work is done (or no longer due): the clock stops. Whether it was running."""
        return self._store.met(record_type, record_id, kind, at)

    def overdue(self, record_type: str, record_id: str) -> list[MissedLevel]:
        """Every level at which the record's work was found overdue, first to last."""
        return [
            MissedLevel(
                level=row.level,
                deadline=row.deadline,
                detected_at=row.acted_at,
                action=row.action,
                notice=f"Communication/{row.notice_id}" if row.notice_id else None,
            )
            for row in self._store.of_record(record_type, record_id)
            if row.state == MISSED and row.acted_at is not None
        ]

    def missed_involving(
        self, ods_code: str | None, *, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The interface delays of safeguarding work: each level missed where `ods_code`
        owns the work or is owed it (None: every organisation's), newest first, at most
        100, as the API shows them (no patient data)."""
        return [
            {
                "id": row.id,
                "kind": row.kind,
                "record": row.record,
                "level": row.level,
                "owner": row.owner_ods,
                "owed_to": row.on_behalf_ods,
                "pathway": PATHWAY,
                "locality": row.locality,
                "priority": row.priority,
                "deadline": format_instant(row.deadline, fixed_width=False),
                "found_at": format_instant(row.acted_at, fixed_width=False)
                if row.acted_at is not None
                else None,
                "gateway_action": row.action,
            }
            for row in self._store.missed_involving(ods_code, since=since)
        ]

    def running(self, record_type: str, record_id: str, kind: str) -> bool:
        """Whether the record's clock for `kind` is running."""
        return any(
            row.kind == kind and row.state == OPEN
            for row in self._store.of_record(record_type, record_id)
        )


def safeguarding_ladder(config: GatewayConfig) -> Callable[[str, str | None], Ladder | None]:
    """The owner's safeguarding ladder in `config`, by owner and locality."""

    def ladder(owner: str, locality: str | None) -> Ladder | None:
        return config.ladders.for_escalation(owner, PATHWAY, locality)

    return ladder


class OverdueSafeguarding:
    """The watcher's source for safeguarding deadlines."""

    name = "safeguarding-overdue"

    def __init__(
        self,
        config: Callable[[], GatewayConfig],
        *,
        gateway_url: str,
        clock: Callable[[], datetime],
        new_id: IdSource = new_id,
    ) -> None:
        self._config = config
        self._gateway_url = gateway_url
        self._clock = clock
        self._new_id = new_id

    def due(self, connection: Connection, now: datetime, limit: int) -> list[str]:
        return DeadlineStore(connection).due(now, limit)

    def next_deadline(self, connection: Connection) -> datetime | None:
        return DeadlineStore(connection).next_deadline()

    def act(self, connection: Connection, key: str, now: datetime, worker: str) -> Acted | None:
        store = DeadlineStore(connection)
        row = store.take(key, now, worker)
        if row is None:
            return None
        config = self._config()
        ladder = safeguarding_ladder(config)(row.owner_ods, row.locality)
        level = ladder.level(row.level) if ladder is not None else None
        above = _above(ladder, row.level)
        reached: Reached | None = None
        if above is not None and (level is None or level.on_missed == STEP_UP):
            deadline = now + above.within(_priority(row.priority))
            store.add(
                replace(
                    row,
                    id=self._new_id(),
                    level=above.level,
                    deadline=deadline,
                    opened_at=now,
                    state=OPEN,
                    acted_at=None,
                    acted_by=None,
                )
            )
            contact = above.contact
            reach = f"{contact.name}, {contact.telephone}" if contact is not None else None
            reached = Reached(level_name(above.level), reach, deadline)
        top = ladder.top.contact if ladder is not None else None
        names = {o.ods: o.name for o in config.directory.organisations}
        owner = (
            f"{names[row.owner_ods]} ({row.owner_ods})" if row.owner_ods in names else row.owner_ods
        )
        text = overdue_text(
            row.kind,
            row.title,
            owner,
            row.due_at,
            reached,
            f"{top.name} on {top.telephone}" if top is not None else None,
        )
        action = STEP_UP if reached is not None else NOTIFY
        kind = "overdue-escalated" if reached is not None else "overdue-exhausted"
        trail = AccessTrail(EventKind.APPLICATION, Subtype.SAFEGUARDING_OVERDUE, "C")
        notice_id = self._tell(connection, config, row, kind, text, now, trail)
        store.acted(row.id, action, notice_id)
        requester = _on_behalf(row)
        client = AuditedClient(requester.client_id, requester.organisation, None)
        who = Who(client, None, (), None, row.record_id, self._gateway_url)
        description = (
            f"Safeguarding {row.kind} on {row.record_type}/{row.record_id} overdue at the "
            f"{row.level} level for {row.owner_ods}: "
            f"{'escalated to the next level' if reached else 'no further level'}"
        )
        audit_log.append(connection, trail.events(who, AuditOutcome.SUCCESS, description))
        log.info(
            "deadlines.safeguarding_overdue",
            kind=row.kind,
            resource_type=row.record_type,
            resource_id=row.record_id,
            ods_code=row.owner_ods,
            action=action,
        )
        return Acted(self.name, key, action)

    def _tell(
        self,
        connection: Connection,
        config: GatewayConfig,
        row: SafeguardingDeadline,
        kind: str,
        text: str,
        now: datetime,
        trail: AccessTrail,
    ) -> str:
        """Write the notice to the owner and those told; if sharing with them is no
        longer permitted, to the organisation owed the work alone. Its id."""
        requester = _on_behalf(row)
        recipients = [row.owner_ods, *row.told.split(), requester.organisation]
        writer = self._writer(connection, config, requester)
        notice_id = self._new_id()
        notice = overdue_notice(
            notice_id=notice_id,
            kind=kind,
            record=row.record,
            nhs_number=row.patient,
            sender_ods=requester.organisation,
            recipients=recipients,
            text=text,
            now=now,
        )
        try:
            with connection.begin_nested():
                written = writer.create_mapped([notice])
        except SharingRefused:
            notice_id = self._new_id()
            alone = overdue_notice(
                notice_id=notice_id,
                kind="overdue-notice-refused",
                record=row.record,
                nhs_number=row.patient,
                sender_ods=requester.organisation,
                recipients=[requester.organisation],
                text=f"{text} The owner could not be told through the gateway: sharing it "
                "with them is no longer permitted (consent or the data-sharing agreement).",
                now=now,
            )
            written = writer.create_mapped([alone])
        for record in written:
            trail.saw(record)
        return notice_id

    def _writer(
        self, connection: Connection, config: GatewayConfig, requester: Requester
    ) -> FhirWrites:
        return FhirWrites(
            gateway_service(connection, config, requester, clock=self._clock, new_id=self._new_id)
        )


def _on_behalf(row: SafeguardingDeadline) -> Requester:
    return Requester(
        organisation=row.on_behalf_ods,
        client_id=row.on_behalf_client,
        role=row.on_behalf_role,
        purpose=Purpose(row.purpose),
    )


def _above(ladder: Ladder | None, level: str) -> LadderLevel | None:
    """The level a missed deadline at `level` climbs to: the ladder's first, if it does
    not have the front line."""
    if ladder is None:
        return None
    if ladder.level(level) is None:
        return ladder.levels[0] if level == FIRST_LEVEL else None
    return ladder.above(level)


def _priority(priority: str | None) -> Priority | None:
    """A stored priority as the ladder knows it (the routine time for none)."""
    return next((known for known in PRIORITIES if known == priority), None)
