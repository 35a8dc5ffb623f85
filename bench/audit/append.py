"""What the access log costs a request: creates and reads by the code before the access
log (a git worktree, as bench/baseline.py checks out the authentication baseline)
against this code, on fresh stores, in the same run, under the same load.

Each side: a fresh store migrated by its own `gateway db upgrade`, one server process
(`gateway serve`) with the benchmark's configuration (bench/auth.py), then

- creates: `POST /fhir/ServiceRequest` by wrk over 32 connections, each with the token
  of AZZ's client, exactly as bench/run.py measures them (bench/creates.py,
  bench/wrk.py): a warm-up, then the measured run; on this code every create appends
  its AuditEvent in its own transaction;
- reads: `GET /fhir/ServiceRequest/<id>` by wrk over the same 32 connections with the
  same token, cycling through up to 1,000 of the ServiceRequests just created (read
  from the store, untimed): the same warm-up and measured run. On this code a read
  commits its AuditEvent in a write transaction of its own before the answer is sent.

Which code a server runs is checked: `GET /audit/checkpoints/latest` without a token is
a route of this code only (401) and unknown to the baseline (404).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from bench import wrk
from bench.auth import TokenSource
from bench.baseline import Baseline
from bench.creates import CreateLoad
from bench.measure import REQUESTER, Throughput
from bench.server import CURRENT, Code, Servers, check_authenticates
from bench.stores import query

# The commit before the access log ("Audit log core: ..."): cd328f3.
DEFAULT_REF = "cd328f3"
# HTTP patients of these creates (both sides send the same ServiceRequests).
FIRST_PATIENT = 700_000
# Up to 1,000 ServiceRequests the reads cycle through.
READ_IDS_SQL = (
    "SELECT id FROM resources WHERE resource_type = 'ServiceRequest' ORDER BY id LIMIT 1000"
)


@dataclass(frozen=True, slots=True)
class Side:
    code: str  # which code
    creates: Throughput
    reads: Throughput
    read_ids: int  # distinct ServiceRequests the reads cycled through
    # This code only: the access log when the server stopped (a second after the reads).
    audit_events: int | None = None
    sequenced: int | None = None
    checkpoints: int | None = None


@dataclass(frozen=True, slots=True)
class AppendCost:
    database: str
    without_log: Side
    with_log: Side
    round: int = 1  # rounds alternate: without, with, without, with...

    @property
    def create_ratio(self) -> float:
        before = self.without_log.creates.per_second
        return self.with_log.creates.per_second / before if before else float("nan")

    @property
    def read_ratio(self) -> float:
        before = self.without_log.reads.per_second
        return self.with_log.reads.per_second / before if before else float("nan")


def check_code(base: str, *, has_log: bool) -> None:
    status = httpx.get(f"{base}/audit/checkpoints/latest", timeout=10).status_code
    expected = 401 if has_log else 404
    if status != expected:
        raise RuntimeError(
            f"GET /audit/checkpoints/latest without a token answered {status}, not "
            f"{expected}: the server is not running the {'current' if has_log else 'baseline'} "
            "code"
        )


def measure_append_cost(
    database: str,
    servers: Servers,
    baseline: Baseline,
    creates: CreateLoad,
    *,
    seconds: float,
    warmup: float,
    round_: int = 1,
) -> AppendCost:
    sides = [
        _side(database, servers, code, creates, seconds, warmup)
        for code in (baseline.code, CURRENT)
    ]
    return AppendCost(database, sides[0], sides[1], round_)


def _side(
    database: str, servers: Servers, code: Code, creates: CreateLoad, seconds: float, warmup: float
) -> Side:
    has_log = code is CURRENT
    with servers.store(database) as url:
        with servers.serve(url, code) as base:
            check_authenticates(base)
            check_code(base, has_log=has_log)
            bearer = TokenSource(base, servers.auth).bearer(REQUESTER.ods)
            created = creates.run(
                base, seconds=seconds, warmup=warmup, first_patient=FIRST_PATIENT, bearer=bearer
            )
            ids = [row[0] for row in query(url, READ_IDS_SQL)]
            if not ids or not creates.wrk:
                raise RuntimeError("the reads need wrk and some created ServiceRequests")
            reads = wrk.measure(
                creates.wrk,
                base,
                wrk.reads(ids),
                connections=creates.clients,
                seconds=max(1, round(seconds)),
                warmup=round(warmup),
                bearer=bearer,
            ).throughput(f"wrk {creates.wrk_version}", creates.clients)
            if has_log:
                time.sleep(1.5)  # the sequencer's turn (every second)
        counts = audit_counts(url) if has_log else (None, None, None)
    label = "this checkout" if has_log else code.label
    return Side(label, created, reads, len(ids), *counts)


def audit_counts(url: str) -> tuple[int, int, int]:
    """Events in the log, how many the sequencer has placed, and checkpoints signed."""
    (row,) = query(
        url,
        "SELECT (SELECT count(*) FROM audit_events), "
        "(SELECT count(*) FROM audit_events WHERE position IS NOT NULL), "
        "(SELECT count(*) FROM audit_checkpoints)",
    )
    return int(row[0]), int(row[1]), int(row[2])
