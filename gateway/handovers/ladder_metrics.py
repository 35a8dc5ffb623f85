"""The escalation ladders in /metrics, read from the database at each scrape (so every
process answers for all of them). Labels are ODS codes and actions: never patient data.

    gateway_escalation_steps_open{receiver}        steps waiting for a response
    gateway_escalation_deadline_lag_seconds        how long the earliest passed deadline of
                                                   a still-open step has gone unacted on:
                                                   0 normally; above a minute, no watcher
                                                   is acting (alert on it)
    gateway_interface_delays{receiver, action}     missed steps recorded, ever
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.handovers.ladder_store import DelayStore, StepStore
from gateway.platform.clock import utc_now
from gateway.platform.database import Database


class LadderCollector(Collector):
    def __init__(self, database: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._clock()
        with self._database.read() as connection:
            steps = StepStore(connection)
            open_steps = steps.open_by_receiver()
            earliest = steps.next_deadline()
            delays = DelayStore(connection).counts()
        waiting = GaugeMetricFamily(
            "gateway_escalation_steps_open",
            "Escalation steps waiting for a response, by receiving organisation.",
            labels=["receiver"],
        )
        for receiver, count in sorted(open_steps.items()):
            waiting.add_metric([receiver], count)
        yield waiting
        lag = GaugeMetricFamily(
            "gateway_escalation_deadline_lag_seconds",
            "How long the earliest passed deadline of a still-open escalation step has gone "
            "unacted on (0 when none has passed); above 60, no deadline watcher is acting.",
        )
        lag.add_metric([], max(0.0, (now - earliest).total_seconds()) if earliest else 0.0)
        yield lag
        missed = GaugeMetricFamily(
            "gateway_interface_delays",
            "Escalation steps not answered by their deadline, ever, by receiving "
            "organisation and what the gateway did (step-up, notify).",
            labels=["receiver", "action"],
        )
        for (receiver, action), count in sorted(delays.items()):
            missed.add_metric([receiver, action], count)
        yield missed
