"""The two measurements, taken at the client over HTTP against the real server, each
request with an access token (bench/auth.py) of the organisation that asks."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.auth import TokenSource
from bench.data import (
    HTTP_PATIENT_OFFSET,
    NHS_NUMBER_SYSTEM,
    Organisation,
    Workload,
    nhs_number,
    service_request,
)
from bench.stats import percentile

FHIR_JSON = "application/fhir+json"
HEADERS = {"Accept": FHIR_JSON}

Params = list[tuple[str, str]]
# The organisations of the HTTP creates (test ODS codes; in the benchmark's configuration,
# bench/auth.py). Each create is sent by the requester's client.
REQUESTER = Organisation(id="", ods="AZZ")
PERFORMER = Organisation(id="", ods="RZZ")
# Given how long it must stay valid, the Authorization header value for the creates;
# None: send none (the baseline, which has no authentication).
Bearer = Callable[[float], str] | None


@dataclass(frozen=True, slots=True)
class Latency:
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_total: float  # the Bundle's total: how many resources matched, on average
    mean_entries: float  # how many the first page returned


@dataclass(frozen=True, slots=True)
class Search:
    """One search, and the organisation whose client sends it."""

    resource_type: str
    params: Params
    caller: str  # ODS code

    def url(self) -> str:
        return f"/{self.resource_type}?{urlencode(self.params)}"


Query = Callable[[Workload, random.Random], Search]


@dataclass(frozen=True, slots=True)
class Throughput:
    client: str  # the load generator: "wrk 4.1.0" or "httpx"
    clients: int  # concurrent connections
    seconds: float  # measured, warm-up excluded
    created: int  # 201 responses
    errors: int  # any other response, a dropped connection or a timeout
    per_second: float  # created per second
    p50_ms: float
    p99_ms: float
    client_cpu: float  # cores the load generator used while running (1.0 = one whole core)

    @property
    def failed(self) -> bool:
        """Any failed request, or nothing created at all, fails the measurement."""
        return self.errors > 0 or self.created == 0


def create_bodies(first_patient: int, seed: int | None = None) -> Callable[[], bytes]:
    """The creates' ServiceRequests, requester AZZ and performer RZZ, one per HTTP
    patient from `first_patient` on, authored now; seeded by `first_patient` unless
    `seed` is given."""
    rng = random.Random(first_patient if seed is None else seed)
    patients = itertools.count(HTTP_PATIENT_OFFSET + first_patient)

    def body() -> bytes:
        resource = service_request(next(patients), REQUESTER, PERFORMER, datetime.now(UTC), rng)
        return json.dumps(resource).encode()

    return body


# -- search latency: one client, one request at a time ----------------------------------


def request_search(workload: Workload, rng: random.Random) -> Search:
    """A patient's ServiceRequests (a patient with more is drawn more often)."""
    return patient_search(workload, workload.request_patient(rng))


def patient_search(workload: Workload, patient: int) -> Search:
    """The patient's ServiceRequests, asked by the patient's trust (the performer of all
    of them, so it sees every one)."""
    return Search(
        "ServiceRequest",
        [("subject:identifier", f"{NHS_NUMBER_SYSTEM}|{nhs_number(patient)}")],
        workload.trust(patient).ods,
    )


def poll_search(window: timedelta) -> Query:
    """What an organisation has received lately, asked by that organisation."""

    def query(workload: Workload, rng: random.Random) -> Search:
        assert workload.last_communication is not None
        since = (workload.last_communication - window).astimezone(UTC)
        recipient = workload.recipient(rng)
        return Search(
            "Communication",
            [
                ("recipient", f"Organization/{recipient.id}"),
                ("_lastUpdated", "gt" + since.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ],
            recipient.ods,
        )

    return query


def searches(workload: Workload, query: Query, count: int, seed: int) -> list[Search]:
    rng = random.Random(seed)
    return [query(workload, rng) for _ in range(count)]


def timed_gets(
    base: str, requests: Iterable[tuple[str, dict[str, str]]], *, warmup: int
) -> list[tuple[float, dict[str, Any] | None]]:
    """GET each (path under /fhir, headers) one at a time from one client. For each
    request after the first `warmup`: its milliseconds at the client and its JSON body,
    None where it failed (not 200, or no answer). `requests` may be lazy: each one's
    headers are made before its clock starts."""
    answers: list[tuple[float, dict[str, Any] | None]] = []
    with httpx.Client(base_url=f"{base}/fhir", headers=HEADERS, timeout=30) as client:
        for number, (path, headers) in enumerate(requests):
            started = time.perf_counter()
            try:
                response: httpx.Response | None = client.get(path, headers=headers)
            except httpx.TransportError:
                response = None
            elapsed = time.perf_counter() - started
            if number < warmup:
                continue
            ok = response is not None and response.status_code == 200
            answers.append((elapsed * 1000, response.json() if response and ok else None))
    return answers


def search_latency(
    base: str, tokens: TokenSource, searches: Sequence[Search], *, warmup: int
) -> tuple[Latency, list[int | None]]:
    """Send the searches one at a time; the first `warmup` are not measured.

    Also returns each measured search's Bundle total (None where it failed). Tokens are
    fetched before the clock starts; the server checks each one's signature on its first
    use and remembers it, as it would for any client.
    """
    requests = ((search.url(), tokens.headers(search.caller)) for search in searches)
    answers = timed_gets(base, requests, warmup=warmup)
    totals = [None if bundle is None else int(bundle["total"]) for _, bundle in answers]
    bundles = [bundle for _, bundle in answers if bundle is not None]
    timings = [ms for ms, bundle in answers if bundle is not None]
    errors = len(answers) - len(bundles)
    if not timings:  # every search failed: the table shows the errors, not latencies
        nan = math.nan
        return Latency(len(answers), errors, nan, nan, nan, nan, nan), totals
    found = [total for total in totals if total is not None]
    latency = Latency(
        requests=len(answers),
        errors=errors,
        p50_ms=percentile(timings, 0.50),
        p99_ms=percentile(timings, 0.99),
        max_ms=max(timings),
        mean_total=sum(found) / len(found),
        mean_entries=sum(len(bundle.get("entry", [])) for bundle in bundles) / len(bundles),
    )
    return latency, totals


# -- create throughput with httpx: many clients at once, from this process -------------
# (bench/wrk.py is preferred when wrk is installed: see bench/creates.py)


def create_throughput(
    base: str,
    *,
    clients: int,
    seconds: float,
    warmup: float,
    first_patient: int,
    bearer: Bearer,
) -> Throughput:
    return asyncio.run(_create_throughput(base, clients, seconds, warmup, first_patient, bearer))


async def _create_throughput(
    base: str, clients: int, seconds: float, warmup: float, first_patient: int, bearer: Bearer
) -> Throughput:
    body = create_bodies(first_patient)
    started, cpu_started = time.perf_counter(), time.process_time()
    measure_from, stop_at = started + warmup, started + warmup + seconds
    timings: list[float] = []
    errors = 0

    def headers() -> dict[str, str]:
        if bearer is None:
            return {"Content-Type": FHIR_JSON}
        # A token with a minute left at least: renewed (rarely) during a long run.
        return {"Content-Type": FHIR_JSON, "Authorization": bearer(60.0)}

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while (now := time.perf_counter()) < stop_at:
            try:
                response = await client.post("/ServiceRequest", content=body(), headers=headers())
                status = response.status_code
            except httpx.TransportError:
                status = None  # counted as an error, never a crash of the whole run
            finished = time.perf_counter()
            if finished < measure_from or finished > stop_at:
                continue
            if status == 201:
                timings.append((finished - now) * 1000)
            else:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=f"{base}/fhir", headers=HEADERS, limits=limits, timeout=60
    ) as client:
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
    return Throughput(
        client="httpx",
        clients=clients,
        seconds=seconds,
        created=len(timings),
        errors=errors,
        per_second=len(timings) / seconds,
        # nothing created: the table shows the measurement failed, not latencies
        p50_ms=percentile(timings, 0.50),
        p99_ms=percentile(timings, 0.99),
        client_cpu=(time.process_time() - cpu_started) / (time.perf_counter() - started),
    )
