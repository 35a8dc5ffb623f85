"""Open escalation steps written straight into `escalation_steps`, in bulk (SQLAlchemy
Core), as the gateway's EscalationLadder.register would have stored them: the deadline
watcher only ever reads this table to find what is due, so the rows need no resources
behind them for that.

Each row is a realistic step: ids as the gateway makes them (UUID4s; a first step's
escalation id is its own ServiceRequest's), a level and its step number (front-line 1,
manager 2, senior 3; 70/20/10%), a priority (emergency, very-urgent, urgent, routine;
10/20/40/30%), a valid NHS number of its own, a sender and a receiver among bench.data's
200 organisations (B0001..B0200, never AZZ, the sender of bench/ladders' own
escalations, so its steps are told apart by sender), the sender's client
(`bench-<code>`), a pathway (crisis, safeguarding, discharge-follow-up; 70/20/10%) and
a locality of pathways.yaml's (north, south), purpose direct-care, state open. Its
deadline is its level's time for its priority on the demo's ladder
(config/demo/ladders.yaml: 15 minutes to 2 days) after it was received, and it was
received at a random point of that time before `now`: deadlines spread over the
future as open steps' do, the nearest first in number.

`due` rows (the few the watcher has to find) missed their deadline 1 to 60 s before
`now`. `horizon` shifts every future deadline (and its received_at, at most to `now`)
later by that much: bench/ladders' step-up runs need none of these to fall due while
they run.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import psycopg
import yaml
from sqlalchemy import insert, text

from bench.auth import DEMO_CONFIG, client_id
from bench.data import ORGANISATIONS, nhs_number, organisation_code
from gateway.configuration.ladders import Ladder, Ladders
from gateway.handovers.ladder_store import OPEN
from gateway.platform.database import Database
from gateway.platform.schema import escalation_steps

LEVELS = (("front-line", 1), ("manager", 2), ("senior", 3))
LEVEL_WEIGHTS = (70, 20, 10)
PRIORITIES = ("emergency", "very-urgent", "urgent", "routine")
PRIORITY_WEIGHTS = (10, 20, 40, 30)
PATHWAYS = ("crisis", "safeguarding", "discharge-follow-up")
PATHWAY_WEIGHTS = (70, 20, 10)
LOCALITIES = ("north", "south")
# Where the filler's patients come from: apart from every other benchmark's (bench.data's
# loaded ones, its HTTP creates from 5,000,000, bench.handovers' from 7,000,000,
# bench.outbox's from 8,000,000) and from bench/ladders' own escalations (7,500,000 on):
# 6,000,000 to 6,999,999, so a million open steps at most (9xx NHS numbers end at about
# patient 9,090,000).
FILLER_PATIENT_OFFSET = 6_000_000
MOST_STEPS = 1_000_000
BATCH = 5_000  # rows per executemany


@dataclass(frozen=True, slots=True)
class Filler:
    """Open steps as of `now`: how many exist so far, and the seeded draws."""

    now: datetime
    seed: int
    horizon: timedelta = timedelta(0)

    def rows(self, first: int, count: int, *, due: bool = False) -> Iterator[dict[str, Any]]:
        """Rows number `first` to `first + count - 1` (each number its own draws)."""
        for number in range(first, first + count):
            yield self.row(number, due=due)

    def row(self, number: int, *, due: bool = False) -> dict[str, Any]:
        if number >= MOST_STEPS:
            raise ValueError(f"at most {MOST_STEPS:,} filler steps (their patients run out)")
        rng = random.Random(self.seed * 1_000_003 + number)
        level, step = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        priority = rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0]
        pathway = rng.choices(PATHWAYS, PATHWAY_WEIGHTS)[0]
        ladder_level = demo_ladder(pathway).level(level)
        assert ladder_level is not None, level
        within = ladder_level.respond_within[priority]  # type: ignore[index]
        if due:
            deadline = self.now - timedelta(seconds=rng.uniform(1, 60))
        else:
            ahead = timedelta(seconds=rng.uniform(1, within.total_seconds()))
            deadline = self.now + self.horizon + ahead
        received_at = min(deadline - within, self.now)
        sender, receiver = rng.sample(range(1, ORGANISATIONS + 1), 2)
        service_request = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        sender_ods = organisation_code(sender)
        return {
            "communication_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "service_request_id": service_request,
            "escalation_id": (
                service_request
                if step == 1
                else str(uuid.UUID(int=rng.getrandbits(128), version=4))
            ),
            "step": step,
            "level": level,
            "patient": nhs_number(FILLER_PATIENT_OFFSET + number),
            "sender_ods": sender_ods,
            "receiver_ods": organisation_code(receiver),
            "pathway": pathway,
            "locality": rng.choice(LOCALITIES),
            "priority": priority,
            "sender_client": client_id(sender_ods),
            "sender_role": "Team manager" if step == 1 else None,
            "purpose": "direct-care",
            "received_at": received_at,
            "deadline": deadline,
            "state": OPEN,
            "answered_at": None,
            "answered_by": None,
            "acted_at": None,
            "acted_by": None,
        }


@cache
def demo_ladder(pathway: str) -> Ladder:
    """RZZ's ladder in config/demo/ladders.yaml for `pathway` (locality north)."""
    ladders = Ladders.model_validate(yaml.safe_load((DEMO_CONFIG / "ladders.yaml").read_text()))
    ladder = ladders.for_escalation("RZZ", pathway, "north")
    assert ladder is not None, pathway
    return ladder


def insert_steps(database: Database, rows: Iterator[dict[str, Any]]) -> int:
    """Insert the rows in transactions of BATCH (executemany); how many."""
    inserted = 0
    while True:
        batch = [row for _, row in zip(range(BATCH), rows, strict=False)]
        if not batch:
            return inserted
        with database.write() as connection:
            connection.execute(insert(escalation_steps), batch)
        inserted += len(batch)


def analyze(database: Database, url: str) -> None:
    """What bench/load.py does after each load step: VACUUM (ANALYZE) on PostgreSQL (the
    visibility map set, nothing left for autovacuum mid-measurement), ANALYZE and a WAL
    checkpoint on SQLite."""
    if database.dialect == "postgresql":
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE) escalation_steps")
        return
    with database.write() as connection:
        connection.execute(text("ANALYZE"))
    raw = database.engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


def count_open(database: Database) -> int:
    with database.read() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM escalation_steps WHERE state = 'open'")
            ).scalar_one()
        )
