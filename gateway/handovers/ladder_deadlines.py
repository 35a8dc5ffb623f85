"""Escalation steps as a deadline source (gateway.platform.deadlines): a step whose
deadline passed with no response is taken by one process and acted on
(gateway.handovers.step_up): stepped up, or its sender and receiver told.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from gateway.access_log import log as audit_log
from gateway.configuration.models import GatewayConfig
from gateway.handovers.ladder_store import StepStore
from gateway.handovers.step_up import STEP_UP, LadderActions
from gateway.platform.deadlines import Acted
from gateway.platform.logging import get_logger

log = get_logger(__name__)


class LadderDeadlines:
    name = "escalation-steps"

    def __init__(
        self,
        config: Callable[[], GatewayConfig],
        *,
        gateway_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._gateway_url = gateway_url
        self._clock = clock

    def due(self, connection: Connection, now: datetime, limit: int) -> list[str]:
        return StepStore(connection).due(now, limit)

    def next_deadline(self, connection: Connection) -> datetime | None:
        return StepStore(connection).next_deadline()

    def act(self, connection: Connection, key: str, now: datetime, worker: str) -> Acted | None:
        actions = LadderActions(
            connection,
            self._config(),
            gateway_url=self._gateway_url,
            worker=worker,
            clock=self._clock,
        )
        done = actions.act(key)
        if done is None:
            return None
        audit_log.append(connection, done.events)
        log.info(
            "deadlines.step_missed",
            resource_type="Communication",
            resource_id=key,
            ods_code=done.missed.receiver_ods,
            action=done.action,
        )
        return Acted(self.name, key, done.action, queued=done.action == STEP_UP)
