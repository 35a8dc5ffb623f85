"""The deadline watcher: finds records whose deadline passed with nothing done, and has
each one's feature act on it within seconds.

Each feature that keeps deadlines gives a source (DeadlineSource): escalation steps on
their receiver's ladder (gateway.handovers.ladder_deadlines), overdue safeguarding
actions and restriction reviews (gateway.safeguarding.overdue), restrictions past their
time limit. The watcher runs in every `gateway serve` and `gateway worker` process.
It looks at the earliest open deadline of any source, at once again after a full batch,
and at least every `poll` seconds (each source reads by a (state, deadline) index, so the
cost does not grow with the number of open records). Each due record is acted on in a
transaction of its own: the source takes it with a conditional update, so exactly one
process acts on each deadline, and a failure rolls back that record alone, which stays
due and is tried again.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import anyio
from sqlalchemy import Connection

from gateway.platform.clock import new_id, utc_now
from gateway.platform.database import Database
from gateway.platform.logging import get_logger
from gateway.platform.settings import Settings

log = get_logger(__name__)

# A moment past a deadline before looking, so the record is due when the look reads it
# (clocks and the database's time resolution differ by less than this).
_AFTER_DEADLINE = 0.01


@dataclass(frozen=True, slots=True)
class Acted:
    """What a source did about one missed deadline (no patient data: it is logged)."""

    source: str
    key: str  # the source's id for the record
    action: str  # e.g. step-up | notify | ended
    queued: bool = False  # deliveries were queued: ring the delivery workers


class DeadlineSource(Protocol):
    """One kind of deadline. `act` runs in a write transaction of its own; it takes the
    record with a conditional update (returning None when another process took it first
    or the deadline was met meanwhile) and appends its own audit events."""

    name: str

    def due(self, connection: Connection, now: datetime, limit: int) -> list[str]: ...

    def next_deadline(self, connection: Connection) -> datetime | None: ...

    def act(self, connection: Connection, key: str, now: datetime, worker: str) -> Acted | None: ...


@dataclass(frozen=True, slots=True)
class WatcherSettings:
    # How often to look: a deadline is acted on at most this long (plus one transaction)
    # after it passes. The escalations issue asks for within 60 seconds.
    poll_seconds: float = 1.0
    batch: int = 50  # per source and look

    @classmethod
    def from_settings(cls, settings: Settings) -> WatcherSettings:
        return cls(poll_seconds=settings.deadline_poll_seconds)


class DeadlineWatcher:
    def __init__(
        self,
        database: Database,
        sources: Sequence[DeadlineSource],
        *,
        settings: WatcherSettings = WatcherSettings(),
        clock: Callable[[], datetime] = utc_now,
        on_queued: Callable[[], None] = lambda: None,
        worker_id: str | None = None,
    ) -> None:
        self._database = database
        self._sources = tuple(sources)
        self._settings = settings
        self._clock = clock
        # Called in the event loop when an action queued deliveries (to ring this
        # process's own delivery workers; other processes hear PostgreSQL's NOTIFY).
        self._on_queued = on_queued
        self.worker_id = worker_id or f"{socket.gethostname()}:{new_id()[:8]}:deadlines"
        self._full = False  # whether the last look found a full batch at some source

    async def run(self, stopping: anyio.Event) -> None:
        """Watch until `stopping` is set; an unexpected error is logged, not fatal."""
        while not stopping.is_set():
            pause = self._settings.poll_seconds
            try:
                acted = await anyio.to_thread.run_sync(self.run_once)
                pause = await anyio.to_thread.run_sync(self.pause_after, acted)
            except Exception as error:
                log.error("deadlines.round_failed", error_type=type(error).__name__)
            else:
                if any(done.queued for done in acted):
                    self._on_queued()  # in the event loop, where doorbells are rung
            with anyio.move_on_after(pause):
                await stopping.wait()

    def pause_after(self, acted: list[Acted]) -> float:
        """How long to wait before the next look: none after a full batch (more may be
        due), else until the earliest open deadline, and never longer than the poll. A
        record made since is found at the next poll at the latest."""
        if self._full:
            return 0.0
        with self._database.read() as connection:
            deadlines = [source.next_deadline(connection) for source in self._sources]
        poll = self._settings.poll_seconds
        earliest = min((deadline for deadline in deadlines if deadline is not None), default=None)
        if earliest is None:
            return poll
        until = (earliest - self._clock()).total_seconds()
        return min(poll, max(until, 0.0) + _AFTER_DEADLINE)

    def run_once(self) -> list[Acted]:
        """One look at every source: each due record this process takes, acted on."""
        now = self._clock()
        with self._database.read() as connection:
            due = [
                (source, source.due(connection, now, self._settings.batch))
                for source in self._sources
            ]
        self._full = any(len(keys) >= self._settings.batch for _, keys in due)
        acted: list[Acted] = []
        for source, keys in due:
            for key in keys:
                try:
                    done = self._act(source, key)
                except Exception as error:
                    log.error(
                        "deadlines.act_failed",
                        source=source.name,
                        resource_id=key,
                        error_type=type(error).__name__,
                    )
                    continue
                if done is not None:
                    acted.append(done)
                    log.info(
                        "deadlines.acted",
                        source=done.source,
                        resource_id=done.key,
                        action=done.action,
                    )
        return acted

    def _act(self, source: DeadlineSource, key: str) -> Acted | None:
        with self._database.write() as connection:
            return source.act(connection, key, self._clock(), self.worker_id)
