"""Search latency with consent and agreement enforcement off and on, in process, against
one store, in the same run.

The store is bench.run's (the same seeded workload, grown by bench/load.py) plus Consent
resources for about 1% of the patients (`ConsentPlan`), written by the same loader. Every
search runs as the server runs it for a caller: `ResourceService.search` in a read
transaction of its own, on behalf of the asking organisation's client (so with the access
control's `resource_parties` condition either way), once with `sharing=None` (enforcement
off: what the code did before) and once with a `SharingPolicy` built for the request from
the benchmark's agreements (on). The two runs of a query follow each other, in
alternating order (off then on, then on then off), and the kinds of search take turns,
so that drift on the machine affects all alike.
"""

from __future__ import annotations

import gc
import math
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, event

from bench.auth import SCOPES, client_id
from bench.consent.consents import patient_consents
from bench.data import (
    RESOURCES_PER_PATIENT,
    Generated,
    Workload,
    nhs_number,
)
from bench.load import Parties, Writer, build_rows
from bench.measure import Search, patient_search, poll_search, request_search
from bench.plans import Statement, capture, explained
from bench.stats import percentile
from consent.agreements import Agreement
from core.search.query import PagingLimits, SearchQuery, parse_search
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.fhir.service import ResourceService
from gateway.fhir.storage import validated
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from gateway.sharing.policy import SharingPolicy
from gateway.sharing.requester import Requester

LIMITS = PagingLimits(20, 100)  # the gateway's defaults (Settings.default/max_page_size)
# Patients "in care" at any moment (bench/data.py: EPISODE_PATIENTS).
_EPISODE = 1000
MODES = ("off", "on")


# -- the consenting patients ----------------------------------------------------------


@dataclass
class ConsentPlan:
    """Which patients have recorded Consents, and what they said: each patient with
    probability `share`, decided in patient order from one seeded generator, so a store
    grown in steps holds the same Consents as one grown at once."""

    workload: Workload
    share: float
    seed: int
    rng: random.Random = field(init=False)
    done: int = 0  # patients decided so far (0 .. done-1)
    kinds: dict[int, str] = field(default_factory=dict)  # patient -> what they said
    resources: int = 0  # Consent resources written

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def upto(self, size: int) -> int:
        """One more than the last patient a store of `size` loaded resources names."""
        return (size - 1) // RESOURCES_PER_PATIENT + _EPISODE

    def next_consents(self, size: int) -> list[Generated]:
        """The Consents of the patients a store grown to `size` newly names."""
        made: list[Generated] = []
        for patient in range(self.done, self.upto(size)):
            if self.rng.random() < self.share:
                made.extend(self.consents_of(patient, self.rng))
        self.done = max(self.done, self.upto(size))
        self.resources += len(made)
        return made

    def consenting_nhs_numbers(self) -> set[str]:
        return {nhs_number(patient) for patient in self.kinds}

    def consents_of(self, patient: int, rng: random.Random) -> list[Generated]:
        workload = self.workload
        trust = workload.trust(patient)
        other = rng.choice([o for o in workload.organisations if o.ods != trust.ods])
        # Before the patient's first resource; data periods end halfway through them.
        first = max(0, (patient - _EPISODE) * RESOURCES_PER_PATIENT)
        recorded = workload.start + workload.step * first
        halfway = workload.start + workload.step * max(
            0, (patient - _EPISODE // 2) * RESOURCES_PER_PATIENT
        )
        said = patient_consents(nhs_number(patient), trust.ods, other.ods, recorded, halfway, rng)
        self.kinds[patient] = said.kind
        made = []
        for body in said.bodies:
            if validated("Consent", body) != body:
                raise AssertionError("validation changes a benchmark Consent")
            recorded_at = _recorded(body)
            identifier = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            made.append(Generated("Consent", identifier, recorded_at, body, trust.ods))
        return made

    def sample(self, count: int, seed: int) -> list[Generated]:
        """Consents of made-up patients beyond the store's (for the loader check)."""
        rng = random.Random(seed)
        made: list[Generated] = []
        patient = 4_000_000
        while len(made) < count:
            made.extend(self.consents_of(patient, rng))
            del self.kinds[patient]
            patient += 1
        return made


def _recorded(body: dict[str, Any]) -> datetime:
    return datetime.strptime(body["dateTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def write_consents(writer: Writer, items: list[Generated], parties: Parties) -> int:
    for start in range(0, len(items), 5000):
        writer.write(build_rows(items[start : start + 5000], 0, parties))
    return len(items)


# -- what is searched -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Kind:
    key: str
    label: str
    searches: list[Search]


def search_kinds(
    workload: Workload,
    plan: ConsentPlan,
    count: int,
    seed: int,
    *,
    poll_minutes: float,
    inbox_hours: float,
) -> list[Kind]:
    """The searches of each kind, `count` of each (warm-up included)."""
    rng = random.Random(seed)
    by_patient = [request_search(workload, rng) for _ in range(count)]
    consenting = sorted(
        {p for p in workload.request_patients if p in plan.kinds}  # with ServiceRequests
    )
    with_consent = (
        [patient_search(workload, consenting[rng.randrange(len(consenting))]) for _ in range(count)]
        if consenting
        else []
    )
    poll = poll_search(timedelta(minutes=poll_minutes))
    polls = [poll(workload, rng) for _ in range(count)]
    inbox = [_inbox(workload, rng, timedelta(hours=inbox_hours), "none") for _ in range(count)]
    inbox_total = [
        _inbox(workload, rng, timedelta(hours=inbox_hours), "accurate") for _ in range(count)
    ]
    kinds = [
        Kind(
            "sr-patient",
            "ServiceRequest?subject:identifier=<NHS number>, by the patient's trust",
            by_patient,
        ),
        Kind(
            "sr-patient-consent",
            "the same, patients with a Consent",
            with_consent,
        ),
        Kind(
            "comm-poll",
            f"Communication?recipient&_lastUpdated=gt<newest - {poll_minutes:g} min>, "
            "by the recipient",
            polls,
        ),
        Kind(
            "comm-inbox",
            f"Communication?recipient&_lastUpdated=gt<newest - {inbox_hours:g} h>"
            "&_include=Communication:sender&_sort=-_lastUpdated&_count=20&_total=none",
            inbox,
        ),
        Kind(
            "comm-inbox-total",
            "the same with _total=accurate",
            inbox_total,
        ),
    ]
    return [kind for kind in kinds if kind.searches]


def _inbox(workload: Workload, rng: random.Random, window: timedelta, total: str) -> Search:
    """The poll over a longer window, a page of 20 with the senders, newest first."""
    poll = poll_search(window)(workload, rng)
    extra = [("_include", "Communication:sender"), ("_sort", "-_lastUpdated"), ("_count", "20")]
    return Search(poll.resource_type, [*poll.params, *extra, ("_total", total)], poll.caller)


# -- measuring ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    matches: int
    included: int
    total: int | None


@dataclass
class ModeResult:
    requests: int = 0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    mean_ms: float = math.nan
    max_ms: float = math.nan
    mean_matches: float = math.nan  # entries on the page
    mean_included: float = math.nan
    mean_total: float | None = None
    # From a separate, untimed pass: statements each search sent, and the time spent in
    # the driver's execute (the database's work and the round trips) per search.
    mean_statements: float = math.nan
    max_statements: int = 0
    mean_driver_ms: float = math.nan
    # Python's full (generation 2) garbage collections while these searches ran, and
    # their time: each pauses the process (tens of ms with the gateway's modules loaded).
    gc_full: int = 0
    gc_full_ms: float = 0.0


@dataclass
class KindResult:
    key: str
    label: str
    off: ModeResult
    on: ModeResult
    # Searches (measured) where enforcement hid something: fewer matches or a lower total.
    hid_something: int = 0
    plans: dict[str, list[str]] = field(default_factory=dict)  # mode -> explained blocks


def caller_for(ods: str) -> Caller:
    """The organisation's benchmark client (bench/auth.py), as its token describes it."""
    return Caller(
        client_id=client_id(ods),
        ods_code=ods,
        role=None,
        scopes=ScopeSet.parse(SCOPES),
        purpose_of_use="direct-care",
    )


class Searcher:
    """Runs one search as the server would for the caller, enforcement off or on."""

    def __init__(self, database: Database, agreements: Sequence[Agreement]) -> None:
        self.database = database
        self._agreements = tuple(agreements)
        self._callers: dict[str, Caller] = {}
        self._queries: dict[int, SearchQuery] = {}

    def query(self, search: Search) -> SearchQuery:
        key = id(search)
        if key not in self._queries:
            self._queries[key] = parse_search(search.resource_type, search.params, LIMITS)
        return self._queries[key]

    def caller(self, ods: str) -> Caller:
        if ods not in self._callers:
            self._callers[ods] = caller_for(ods)
        return self._callers[ods]

    def run(
        self, search: Search, mode: str, watch: Callable[[Connection], object] | None = None
    ) -> Found:
        query = self.query(search)
        caller = self.caller(search.caller)
        with self.database.read() as connection:
            if watch is not None:
                watch(connection)
            store = ResourceStore(connection)
            sharing = (
                SharingPolicy(
                    store, Requester.of_caller(caller), self._agreements, datetime.now(UTC)
                )
                if mode == "on"
                else None
            )
            service = ResourceService(store, LIMITS, caller=caller, sharing=sharing)
            page = service.search(query)
        return Found(len(page.matches), len(page.included), page.total)


def measure(
    searcher: Searcher,
    kinds: Sequence[Kind],
    warmup: int,
    consenting: set[str],
    *,
    log: Callable[[str], None],
) -> list[KindResult]:
    timings: dict[tuple[str, str], list[float]] = {(k.key, m): [] for k in kinds for m in MODES}
    found: dict[tuple[str, str], list[Found]] = {(k.key, m): [] for k in kinds for m in MODES}
    rounds = max(len(kind.searches) for kind in kinds)
    clock = time.perf_counter
    last_log = clock()
    collections = _FullCollections()
    gc.collect()
    with collections.watching():
        for number in range(rounds):
            order = MODES if number % 2 == 0 else MODES[::-1]
            for kind in kinds:
                if number >= len(kind.searches):
                    continue
                search = kind.searches[number]
                for mode in order:
                    collections.during = (kind.key, mode) if number >= warmup else None
                    started = clock()
                    outcome = searcher.run(search, mode)
                    elapsed = clock() - started
                    if number >= warmup:
                        timings[kind.key, mode].append(elapsed * 1000)
                        found[kind.key, mode].append(outcome)
            if clock() - last_log >= 15:
                last_log = clock()
                log(f"  searched {number + 1} of {rounds} rounds")
    results = []
    for kind in kinds:
        modes = {mode: _summary(timings[kind.key, mode], found[kind.key, mode]) for mode in MODES}
        for mode, result in modes.items():
            pauses = collections.pauses.get((kind.key, mode), [])
            result.gc_full, result.gc_full_ms = len(pauses), sum(pauses)
        hid = sum(
            off.matches > on.matches or (off.total or 0) > (on.total or 0)
            for off, on in zip(found[kind.key, "off"], found[kind.key, "on"], strict=True)
        )
        results.append(KindResult(kind.key, kind.label, modes["off"], modes["on"], hid))
    check_found(kinds, found, warmup, consenting)
    return results


class _FullCollections:
    """Times Python's full garbage collections, by the search running when they happen."""

    def __init__(self) -> None:
        self.during: tuple[str, str] | None = None
        self.pauses: dict[tuple[str, str], list[float]] = {}
        self._started = 0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter_ns()
        elif self.during is not None:
            elapsed = (time.perf_counter_ns() - self._started) / 1e6
            self.pauses.setdefault(self.during, []).append(elapsed)

    @contextmanager
    def watching(self) -> Iterator[None]:
        gc.callbacks.append(self._callback)
        try:
            yield
        finally:
            gc.callbacks.remove(self._callback)


def check_found(
    kinds: Sequence[Kind],
    found: dict[tuple[str, str], list[Found]],
    warmup: int,
    consenting: set[str],
) -> None:
    """Enforcement may hide but never add; a search about a patient with no Consent loses
    nothing (the agreement covers every pair of organisations); each kind finds something
    with enforcement on."""
    for kind in kinds:
        off, on = found[kind.key, "off"], found[kind.key, "on"]
        for search, before, after in zip(kind.searches[warmup:], off, on, strict=True):
            if after.matches > before.matches or (after.total or 0) > (before.total or 0):
                raise AssertionError(f"{kind.key}: enforcement found more for {search.url()}")
            patient = _patient_of(search)
            if patient is not None and patient not in consenting and before != after:
                raise AssertionError(
                    f"{kind.key}: enforcement hid data of a patient with no Consent "
                    f"({search.url()} as {search.caller}: {before} without, {after} with)"
                )
        if not any(after.matches for after in on):
            raise AssertionError(f"{kind.key}: no search found anything with enforcement on")


def _patient_of(search: Search) -> str | None:
    for name, value in search.params:
        if name == "subject:identifier":
            return value.rpartition("|")[2]
    return None


def _summary(timings: list[float], found: list[Found]) -> ModeResult:
    if not timings:
        return ModeResult()
    totals = [f.total for f in found if f.total is not None]
    return ModeResult(
        requests=len(timings),
        p50_ms=percentile(timings, 0.50),
        p99_ms=percentile(timings, 0.99),
        mean_ms=sum(timings) / len(timings),
        max_ms=max(timings),
        mean_matches=sum(f.matches for f in found) / len(found),
        mean_included=sum(f.included for f in found) / len(found),
        mean_total=sum(totals) / len(totals) if totals else None,
    )


# -- statements per search, and the time in the driver -----------------------------------


@dataclass
class _Counter:
    statements: int = 0
    driver_ns: int = 0
    _started: int = 0


def count_statements(
    searcher: Searcher, kinds: Sequence[Kind], results: list[KindResult], limit: int
) -> None:
    """An untimed pass over the last `limit` measured searches of each kind, counting
    the statements each sends and the time inside the driver's execute."""
    by_key = {result.key: result for result in results}
    for kind in kinds:
        for mode in MODES:
            counts: list[int] = []
            driver_ms: list[float] = []
            for search in kind.searches[-limit:]:
                counter = _Counter()
                searcher.run(search, mode, watch=partial(_watch, counter=counter))
                counts.append(counter.statements)
                driver_ms.append(counter.driver_ns / 1e6)
            result = getattr(by_key[kind.key], mode)
            result.mean_statements = sum(counts) / len(counts)
            result.max_statements = max(counts)
            result.mean_driver_ms = sum(driver_ms) / len(driver_ms)


def _watch(connection: Connection, counter: _Counter) -> None:
    def before(*_: Any) -> None:
        counter.statements += 1
        counter._started = time.perf_counter_ns()

    def after(*_: Any) -> None:
        counter.driver_ns += time.perf_counter_ns() - counter._started

    event.listen(connection, "before_cursor_execute", before)
    event.listen(connection, "after_cursor_execute", after)


# -- query plans ------------------------------------------------------------------------


def explain(searcher: Searcher, search: Search, mode: str) -> list[str]:
    """The statements one search sent (captured as it ran), each with its plan."""
    sent: list[Statement] = []
    searcher.run(search, mode, watch=partial(capture, sent=sent))
    with searcher.database.read() as connection:
        return explained(connection, sent)
