"""The deadline watcher: finds escalation steps whose deadline passed with no response,
and acts on each (gateway.handovers.step_up) within seconds.

Runs in every `gateway serve` and `gateway worker` process. Each looks for due steps at
the earliest open deadline, at once again after a full batch, and at least every `poll`
seconds (by the (state, deadline) index: the cost does not grow with the number of open
steps), and takes each in a transaction of its own; a step taken by
another process is passed over, so exactly one process acts on each deadline. A failure
on one step rolls back that step alone, which stays open and is tried again.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio

from gateway.access_log import log as audit_log
from gateway.configuration.models import GatewayConfig
from gateway.handovers.ladder_store import StepStore
from gateway.handovers.step_up import STEP_UP, Acted, LadderActions
from gateway.platform.clock import new_id, utc_now
from gateway.platform.database import Database
from gateway.platform.logging import get_logger
from gateway.platform.settings import Settings

log = get_logger(__name__)

# A moment past a deadline before looking, so the step is due when the look reads it
# (clocks and the database's time resolution differ by less than this).
_AFTER_DEADLINE = 0.01


@dataclass(frozen=True, slots=True)
class WatcherSettings:
    # How often to look: a deadline is acted on at most this long (plus one transaction)
    # after it passes. The issue of record asks for within 60 seconds.
    poll_seconds: float = 1.0
    batch: int = 50
    gateway_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_settings(cls, settings: Settings) -> WatcherSettings:
        return cls(
            poll_seconds=settings.deadline_poll_seconds,
            gateway_url=settings.public_base_url or f"http://{settings.host}:{settings.port}",
        )


class DeadlineWatcher:
    def __init__(
        self,
        database: Database,
        config: Callable[[], GatewayConfig],
        *,
        settings: WatcherSettings = WatcherSettings(),
        clock: Callable[[], datetime] = utc_now,
        on_queued: Callable[[], None] = lambda: None,
        worker_id: str | None = None,
    ) -> None:
        self._database = database
        self._config = config
        self._settings = settings
        self._clock = clock
        # Called in the event loop when a step-up queued deliveries (to ring this
        # process's own delivery workers; other processes hear PostgreSQL's NOTIFY).
        self._on_queued = on_queued
        self.worker_id = worker_id or f"{socket.gethostname()}:{new_id()[:8]}:deadlines"
        self._last_due = 0  # how many steps the last look found due

    async def run(self, stopping: anyio.Event) -> None:
        """Watch until `stopping` is set; an unexpected error is logged, not fatal."""
        while not stopping.is_set():
            pause = self._settings.poll_seconds
            try:
                acted = await anyio.to_thread.run_sync(self.run_once)
                pause = await anyio.to_thread.run_sync(self.pause_after, acted)
            except Exception as error:
                log.error("deadlines.round_failed", error=type(error).__name__)
            else:
                if any(done.action == STEP_UP for done in acted):
                    self._on_queued()  # in the event loop, where doorbells are rung
            with anyio.move_on_after(pause):
                await stopping.wait()

    def pause_after(self, acted: list[Acted]) -> float:
        """How long to wait before the next look: none after a full batch (more may be
        due), else until the earliest open deadline, and never longer than the poll. A
        step received since is found at the next poll at the latest."""
        if self._last_due >= self._settings.batch:
            return 0.0
        with self._database.read() as connection:
            earliest = StepStore(connection).next_deadline()
        poll = self._settings.poll_seconds
        if earliest is None:
            return poll
        until = (earliest - self._clock()).total_seconds()
        return min(poll, max(until, 0.0) + _AFTER_DEADLINE)

    def run_once(self) -> list[Acted]:
        """One look: every due step this process takes, acted on; what was done."""
        with self._database.read() as connection:
            due = StepStore(connection).due(self._clock(), self._settings.batch)
        self._last_due = len(due)
        acted: list[Acted] = []
        for communication_id in due:
            try:
                done = self._act(communication_id)
            except Exception as error:
                log.error(
                    "deadlines.step_failed", step=communication_id, error=type(error).__name__
                )
                continue
            if done is not None:
                acted.append(done)
                log.info(
                    "deadlines.step_missed",
                    step=communication_id,
                    level=done.missed.level,
                    receiver=done.missed.receiver_ods,
                    action=done.action,
                )
        return acted

    def _act(self, communication_id: str) -> Acted | None:
        with self._database.write() as connection:
            actions = LadderActions(
                connection,
                self._config(),
                gateway_url=self._settings.gateway_url,
                worker=self.worker_id,
                clock=self._clock,
            )
            done = actions.act(communication_id)
            if done is not None:
                audit_log.append(connection, done.events)
            return done
