"""AuditEvent search latency over HTTP, and the plans behind it.

A real server (`gateway serve`, one process) on the loaded store; the IG lead's client
(bench/auth.py: `bench-ig-lead`, scope system/AuditEvent.rs, as config/demo's
demo-ig-lead) asks, one request at a time, after a warm-up:

- `GET /fhir/AuditEvent?patient=<NHS number>`: a patient drawn from those the loaded
  events name (a bounded random sample of them);
- `GET /fhir/AuditEvent?date=ge<t>&date=lt<t + 1 hour>` and the same for one day, `t`
  drawn uniformly over the loaded timeline (whole seconds).

`_count` is the server's default (20). Latency is measured at the client, HTTP round
trip on loopback included; every search is itself audited, so each request also commits
its own AuditEvent before the answer is sent, as in production. The token is fetched
before the clock starts. Then, in process, the SQL `gateway.access_log.search.search_events`
sends for one query of each kind is captured as it runs and explained (`EXPLAIN
(ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite).
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Connection

from bench.auth import IG_LEAD, IG_SCOPES, TokenSource
from bench.measure import timed_gets
from bench.plans import explained, statements_of
from bench.stats import percentile
from core.search.query import PagingLimits
from gateway.access_log.search import search_events
from gateway.access_log.search_params import parse_audit_query
from gateway.platform.database import Database

Params = list[tuple[str, str]]
PAGING = PagingLimits(20, 100)  # the server's defaults (GATEWAY_DEFAULT_PAGE_SIZE...)


@dataclass(frozen=True, slots=True)
class SearchLatency:
    query: str
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    mean_entries: float  # AuditEvents on the page
    load_average: float  # 1-minute load average right after


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def by_patient(patients: Sequence[str]) -> Callable[[random.Random], Params]:
    return lambda rng: [("patient", patients[rng.randrange(len(patients))])]


def by_window(
    start: datetime, end: datetime, window: timedelta
) -> Callable[[random.Random], Params]:
    seconds = int((end - start - window).total_seconds())

    def params(rng: random.Random) -> Params:
        low = start.replace(microsecond=0) + timedelta(seconds=rng.randrange(max(1, seconds)))
        return [("date", "ge" + _instant(low)), ("date", "lt" + _instant(low + window))]

    return params


def measure_search(
    base: str,
    tokens: TokenSource,
    label: str,
    make: Callable[[random.Random], Params],
    *,
    requests: int,
    warmup: int,
    seed: int,
) -> SearchLatency:
    rng = random.Random(seed)
    searches = [make(rng) for _ in range(warmup + requests)]
    tokens.client_token(IG_LEAD, IG_SCOPES, valid_for=120)  # before the clock starts

    def sent() -> Iterator[tuple[str, dict[str, str]]]:
        token = ""
        for number, params in enumerate(searches):
            if number % 50 == 0:  # renewed untimed, should it come close to expiry
                token = tokens.client_token(IG_LEAD, IG_SCOPES, valid_for=60)
            yield f"/AuditEvent?{urlencode(params)}", {"Authorization": f"Bearer {token}"}

    answers = timed_gets(base, sent(), warmup=warmup)
    timings = [ms for ms, page in answers if page is not None]
    entries = [len(page.get("entry", [])) for _, page in answers if page is not None]
    errors = len(answers) - len(timings)
    load_average = os.getloadavg()[0]
    if not timings:
        nan = math.nan
        return SearchLatency(label, requests, errors, nan, nan, nan, nan, nan, load_average)
    return SearchLatency(
        query=label,
        requests=requests,
        errors=errors,
        p50_ms=percentile(timings, 0.50),
        p99_ms=percentile(timings, 0.99),
        max_ms=max(timings),
        mean_ms=math.fsum(timings) / len(timings),
        mean_entries=sum(entries) / len(entries),
        load_average=load_average,
    )


def captured_plans(url: str, work: Callable[[Connection], Any]) -> list[str]:
    """One text block per statement `work` ran: the SQL, its parameters, its plan."""
    database = Database(url)
    try:
        with database.read() as connection:
            with statements_of(connection) as sent:
                work(connection)
            return explained(connection, sent, _shorten)
    finally:
        database.dispose()


def _shorten(parameters: Any) -> str:
    text = repr(parameters)
    return text if len(text) <= 400 else text[:400] + f"... ({len(text):,} characters)"


def search_plans(url: str, params: Params) -> list[str]:
    query = parse_audit_query(params, PAGING)
    return captured_plans(url, lambda connection: search_events(connection, query, seen_by=None))
