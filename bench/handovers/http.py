"""Over HTTP against the real server: the foundation's plain create beside the handover
push, in the same run, on the same server and store.

- **create**: `POST /fhir/ServiceRequest`, one ServiceRequest (requester AZZ, performer
  RZZ, a new patient each time), as bench/measure.py's creates send it;
- **handover**: `POST /api/handovers`, the spec's handover example (two key risks) with a
  fresh external_id and patient each time (bench/handovers/examples.py): parsed, checked
  against the rules and the crisis checklist, mapped to FHIR and stored as five
  resources (ServiceRequest, 2 Flags, Communication, Provenance) through ResourceService
  (validation, consent and agreement checks, access control), plus the submission row
  and the request's AuditEvents, in one transaction.

Both are sent by AZZ's client (one token, with the scopes a push needs), from one
`httpx.AsyncClient` in this process with `clients` connections, each sending its next
request as soon as the last is answered. After a warm-up of each kind (discarded), the
two take turns in `rounds` rounds of `seconds / rounds` each, the order alternating
(create then handover, then handover then create, ...), so drift on the machine touches
both alike. A round stops sending at its end and waits for the answers still owed before
the next starts; answers that arrive after a round's end are not in its rate. Every
answer but 201 (a socket error, a timeout) is counted as an error, in or out of the
measured windows, and the first few are kept with their status and body.

Around each round: the CPU time of the server's process (and any children), of this
process (the load generator), and of the whole machine (/proc/stat), so what each
request cost the server, and the database and the rest, can be told apart from what the
load generator took from the same two cores.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.cpu import descendants, machine_busy, process_cpu
from bench.handovers.examples import Handovers
from bench.measure import FHIR_JSON, create_bodies
from bench.stats import percentile

KINDS = ("create", "handover")
PATHS = {"create": "/fhir/ServiceRequest", "handover": "/api/handovers"}
# Resources a successful request stores (AuditEvents aside): a ServiceRequest; a
# ServiceRequest, a Flag per key risk (the example has two), a Communication and a
# Provenance.
RESOURCES = {"create": 1, "handover": 5}
TIMEOUT_S = 60.0
KEPT_ERRORS = 5


@dataclass
class Round:
    kind: str
    seconds: float  # the window
    ok: int  # 201s answered within it
    errors: int  # anything else answered (or failed) within it
    per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_s: float  # the server's CPU time over the round (tail included)
    client_cpu_s: float  # this process's
    machine_busy_s: float  # every core's busy time
    wall_s: float  # the round, its tail included


@dataclass
class KindResult:
    kind: str
    path: str
    resources_per_request: int
    clients: int
    rounds: list[Round] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)  # the measured 201s
    # Every answer of the run (warm-up, check and tails included), by status ("transport"
    # for a socket error or timeout).
    statuses: dict[str, int] = field(default_factory=dict)
    first_errors: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.rounds)

    @property
    def ok(self) -> int:
        return sum(r.ok for r in self.rounds)

    @property
    def errors(self) -> int:
        """Failed requests within the measured windows."""
        return sum(r.errors for r in self.rounds)

    @property
    def errors_anywhere(self) -> int:
        """Failed requests in the whole run, warm-up and tails included."""
        return sum(count for status, count in self.statuses.items() if status != "201")

    @property
    def created(self) -> int:
        """201s in the whole run: what the store must hold."""
        return self.statuses.get("201", 0)

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else math.nan

    @property
    def resources_per_second(self) -> float:
        return self.per_second * self.resources_per_request

    def latency(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)

    def _per_request(self, seconds: float) -> float:
        # CPU over the rounds (tails included) per request answered in them.
        answered = sum(r.ok + r.errors for r in self.rounds)
        return 1000 * seconds / answered if answered else math.nan

    @property
    def server_cpu_ms(self) -> float:
        return self._per_request(sum(r.server_cpu_s for r in self.rounds))

    @property
    def rest_cpu_ms(self) -> float:
        """The machine's busy time per request, less the server and this process: the
        database server, mostly (PostgreSQL's backends; SQLite runs inside the server)."""
        busy = sum(r.machine_busy_s - r.server_cpu_s - r.client_cpu_s for r in self.rounds)
        return self._per_request(max(0.0, busy))

    @property
    def client_cores(self) -> float:
        """The share of a core the load generator used during the rounds."""
        wall = sum(r.wall_s for r in self.rounds)
        return sum(r.client_cpu_s for r in self.rounds) / wall if wall else math.nan

    @property
    def machine_cores(self) -> float:
        wall = sum(r.wall_s for r in self.rounds)
        return sum(r.machine_busy_s for r in self.rounds) / wall if wall else math.nan

    def summary(self) -> dict[str, Any]:
        """The derived figures, for the JSON (the latencies themselves are left out)."""
        return {
            "seconds": self.seconds,
            "ok": self.ok,
            "errors": self.errors,
            "errors_anywhere": self.errors_anywhere,
            "per_second": self.per_second,
            "resources_per_second": self.resources_per_second,
            "p50_ms": self.latency(0.50),
            "p95_ms": self.latency(0.95),
            "p99_ms": self.latency(0.99),
            "max_ms": max(self.latencies_ms, default=math.nan),
            "server_cpu_ms_per_request": self.server_cpu_ms,
            "rest_cpu_ms_per_request": self.rest_cpu_ms,
            "client_cores": self.client_cores,
            "machine_cores": self.machine_cores,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    seconds: float  # measured, per kind
    rounds: int
    warmup: float  # per kind, discarded
    clients: int


def measure_http(
    base: str,
    bearer: Callable[[float], str],
    handovers: Handovers,
    plan: Plan,
    *,
    first_patient: int,
    log: Callable[[str], None],
) -> dict[str, KindResult]:
    """Creates and handovers on the running server at `base`, in alternating rounds."""
    return asyncio.run(_measure(base, bearer, handovers, plan, first_patient, log))


async def _measure(
    base: str,
    bearer: Callable[[float], str],
    handovers: Handovers,
    plan: Plan,
    first_patient: int,
    log: Callable[[str], None],
) -> dict[str, KindResult]:
    results = {kind: KindResult(kind, PATHS[kind], RESOURCES[kind], plan.clients) for kind in KINDS}
    bodies = {"create": create_bodies(first_patient), "handover": handovers.body}
    content_types = {"create": FHIR_JSON, "handover": "application/json"}
    limits = httpx.Limits(max_connections=plan.clients, max_keepalive_connections=plan.clients)
    server = _server_pids()
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=TIMEOUT_S) as client:

        async def run(kind: str, seconds: float, measured: bool) -> None:
            headers = {
                "Content-Type": content_types[kind],
                "Accept": "application/json",
                # A token that outlives the round and its tail (fetched before the clock).
                "Authorization": bearer(seconds + TIMEOUT_S + 60),
            }
            result = results[kind]
            timings: list[float] = []
            errors = 0
            before = _cpu(server)
            started = time.perf_counter()
            stop_at = started + seconds

            async def loop() -> None:
                nonlocal errors
                while time.perf_counter() < stop_at:
                    content = bodies[kind]()
                    sent = time.perf_counter()
                    try:
                        response = await client.post(PATHS[kind], content=content, headers=headers)
                        status = str(response.status_code)
                        text = response.text
                    except httpx.TransportError as error:
                        status, text = "transport", f"{type(error).__name__}: {error}"
                    answered = time.perf_counter()
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    if status != "201" and len(result.first_errors) < KEPT_ERRORS:
                        result.first_errors.append(f"{status} {text[:500]}")
                    if not measured or answered > stop_at:
                        continue
                    if status == "201":
                        timings.append((answered - sent) * 1000)
                    else:
                        errors += 1

            await asyncio.gather(*(loop() for _ in range(plan.clients)))
            wall = time.perf_counter() - started
            if not measured:
                return
            after = _cpu(server)
            result.latencies_ms += timings
            result.rounds.append(
                Round(
                    kind=kind,
                    seconds=seconds,
                    ok=len(timings),
                    errors=errors,
                    per_second=len(timings) / seconds,
                    p50_ms=percentile(timings, 0.5),
                    p99_ms=percentile(timings, 0.99),
                    server_cpu_s=after.server - before.server,
                    client_cpu_s=after.client - before.client,
                    machine_busy_s=after.machine - before.machine,
                    wall_s=wall,
                )
            )

        for kind in KINDS:
            await run(kind, plan.warmup, measured=False)
        log(f"warmed up ({plan.warmup:g} s of each); {plan.rounds} rounds")
        each = plan.seconds / plan.rounds
        for number in range(plan.rounds):
            order = KINDS if number % 2 == 0 else KINDS[::-1]
            for kind in order:
                await run(kind, each, measured=True)
            latest = {r.kind: r for r in (results[k].rounds[-1] for k in KINDS)}
            log(
                f"round {number + 1}: "
                + ", ".join(
                    f"{kind} {latest[kind].per_second:,.0f}/s ({latest[kind].errors} failed)"
                    for kind in order
                )
            )
    return results


def check_push(base: str, bearer: Callable[[float], str], handovers: Handovers) -> dict[str, Any]:
    """One handover, before anything is measured: it must be stored (201) as the
    ServiceRequest, a Flag per key risk, the Communication and the Provenance."""
    response = httpx.post(
        f"{base}{PATHS['handover']}",
        content=handovers.body(),
        headers={"Content-Type": "application/json", "Authorization": bearer(60)},
        timeout=TIMEOUT_S,
    )
    if response.status_code != 201:
        raise RuntimeError(
            f"POST /api/handovers answered {response.status_code}: {response.text[:2000]}"
        )
    created: dict[str, Any] = response.json()
    stored = created["resources"]
    if len(stored["Flag"]) != handovers.risks or not all(
        stored[kind] for kind in ("ServiceRequest", "Communication", "Provenance")
    ):
        raise RuntimeError(f"the handover stored {stored}, not 5 resources")
    return created


# -- CPU time ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cpu:
    server: float  # seconds
    client: float
    machine: float  # busy seconds, every core


def _cpu(server: list[int]) -> _Cpu:
    return _Cpu(sum(process_cpu(pid) for pid in server), time.process_time(), machine_busy())


def _server_pids() -> list[int]:
    """The server's processes: this one's descendants."""
    found = descendants()
    if not found:
        raise RuntimeError("the server's process was not found among this one's children")
    return found
