"""The pure mapping functions in process, on one core: datasets per second; and, for
scale, what validating each resource costs (what every create does to what it stores).

`parse_dataset` (the JSON object, already decoded, read into the dataset models),
`to_fhir` (a parsed dataset to its ServiceRequest, Flags, Communication and Provenance),
`from_fhir` (those resources back to the dataset) and parse + to_fhir together (what a
push maps), on the handover example (two key risks) and the escalation example. The
process is pinned to one core while it measures, and makes no threads.

Each function is called in batches sized to last about `batch_seconds`; the batches of
every function and example take turns, `repeats` rounds, so drift on the machine
touches all of them alike; the figure is the median batch's rate. Garbage collection
stays on (as in the server), after a `gc.collect()` before each batch.

`measure_validation` times, the same way, `validated` (gateway/fhir/service.py,
what `ResourceService.create` checks every resource with) and its three parts, on each
resource a handover push stores and on the ServiceRequest a plain create stores: the
R4 models (`validate_structure`, fhir.resources), HL7's R4 JSON schema
(`fhir_schema.schema_issues`, jsonschema) and the UK Core identifier rules
(`check_uk_core`).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bench.data import HTTP_PATIENT_OFFSET, service_request
from bench.handovers.examples import ESCALATION, HANDOVER, example
from bench.measure import PERFORMER, REQUESTER
from core.fhir.validation import check_uk_core, validate_structure
from core.handover.dataset_input import parse_dataset
from core.handover.fhir.dataset import from_fhir
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.resources import to_fhir
from gateway.fhir import schema_check as fhir_schema
from gateway.fhir.storage import validated

FUNCTIONS = ("parse_dataset", "to_fhir", "from_fhir", "parse_dataset + to_fhir")
CHECKS = ("validate_structure", "schema_issues", "check_uk_core", "validated")


@dataclass
class MappingTiming:
    example: str
    function: str
    resources: int  # the resources to_fhir makes of the example
    calls: int  # per batch
    rates: list[float] = field(default_factory=list)  # datasets/s of each batch

    @property
    def per_second(self) -> float:
        return statistics.median(self.rates)

    @property
    def microseconds(self) -> float:
        return 1e6 / self.per_second

    @property
    def spread(self) -> float:
        """(max - min) / median of the batches' rates."""
        return (max(self.rates) - min(self.rates)) / self.per_second


@dataclass(frozen=True, slots=True)
class _Case:
    timing: MappingTiming
    call: Callable[[], object]


def measure_mapping(*, repeats: int, batch_seconds: float) -> tuple[list[MappingTiming], int]:
    """Every function on both examples; also returns the core it ran on."""
    cases = [case for name in (HANDOVER, ESCALATION) for case in _cases(name)]
    with _one_core() as core:
        for case in cases:  # warm-up, and the batch size
            case.timing.calls = _calls_for(case.call, batch_seconds)
        for _ in range(repeats):
            for case in cases:
                case.timing.rates.append(_batch(case.call, case.timing.calls))
    return [case.timing for case in cases], core


@dataclass
class ValidationTiming:
    request: str  # "create" or "handover"
    resource: str  # its type, and which (Flag 1, Flag 2)
    json_bytes: int  # the resource as JSON
    # check -> its timing (MappingTiming's fields: example is the request, function the check)
    checks: dict[str, MappingTiming] = field(default_factory=dict)


def measure_validation(*, repeats: int, batch_seconds: float) -> list[ValidationTiming]:
    """`validated` and its parts on every resource of a handover push and of a create."""
    now = datetime.now(UTC)
    dataset = parse_dataset(example(HANDOVER, now + timedelta(hours=4)))
    ids = ResourceIds(
        service_request="sr-0001",
        communication="comm-0001",
        provenance="prov-0001",
        flags=tuple(f"flag-{n:04d}" for n in range(len(dataset.key_risks))),
    )
    pushed = to_fhir(dataset, ids, received_at=now, dataset_sha256="0" * 64).all()
    created = service_request(HTTP_PATIENT_OFFSET, REQUESTER, PERFORMER, now, random.Random(1))
    resources = [("create", "ServiceRequest", created)]
    flags = 0
    for resource in pushed:
        label = str(resource["resourceType"])
        if label == "Flag":
            flags += 1
            label = f"Flag {flags}"
        resources.append(("handover", label, dict(resource)))
    timings: list[ValidationTiming] = []
    cases: list[_Case] = []
    for request, label, body in resources:
        kind = str(body["resourceType"])
        timing = ValidationTiming(request, label, len(json.dumps(body)))
        structure = validate_structure(body, kind)
        if fhir_schema.schema_issues(structure, kind):
            raise RuntimeError(f"{request} {label}: the R4 schema refuses it")
        calls: dict[str, Callable[[], object]] = {
            "validate_structure": partial(validate_structure, body, kind),
            "schema_issues": partial(fhir_schema.schema_issues, structure, kind),
            "check_uk_core": partial(check_uk_core, structure, kind),
            "validated": partial(validated, kind, body),
        }
        for check, call in calls.items():
            timing.checks[check] = MappingTiming(request, check, 1, 0)
            cases.append(_Case(timing.checks[check], call))
        timings.append(timing)
    with _one_core():
        for case in cases:
            case.timing.calls = _calls_for(case.call, batch_seconds)
        for _ in range(repeats):
            for case in cases:
                case.timing.rates.append(_batch(case.call, case.timing.calls))
    return timings


def _cases(name: str) -> list[_Case]:
    now = datetime.now(UTC)
    body = example(name, now + timedelta(hours=4))
    digest = hashlib.sha256(json.dumps(body).encode()).hexdigest()
    dataset = parse_dataset(body)
    ids = ResourceIds(
        service_request="sr-0001",
        communication="comm-0001",
        provenance="prov-0001",
        flags=tuple(f"flag-{n:04d}" for n in range(len(dataset.key_risks))),
    )
    mapped = to_fhir(dataset, ids, received_at=now, dataset_sha256=digest)
    flags = list(mapped.flags)
    # The round trip holds, or the timings are of something else.
    if from_fhir(mapped.service_request, flags, mapped.communication) != dataset:
        raise RuntimeError(f"{name}: from_fhir(to_fhir(dataset)) is not the dataset")
    resources = len(mapped.all())

    def parse() -> object:
        return parse_dataset(body)

    def forward() -> object:
        return to_fhir(dataset, ids, received_at=now, dataset_sha256=digest)

    def back() -> object:
        return from_fhir(mapped.service_request, flags, mapped.communication)

    def both() -> object:
        return to_fhir(parse_dataset(body), ids, received_at=now, dataset_sha256=digest)

    calls: dict[str, Callable[[], Any]] = dict(
        zip(FUNCTIONS, (parse, forward, back, both), strict=True)
    )
    return [
        _Case(MappingTiming(name, function, resources, 0), call) for function, call in calls.items()
    ]


def _calls_for(call: Callable[[], object], seconds: float) -> int:
    """How many calls take about `seconds` (after a warm-up of as many)."""
    calls = 16
    while True:
        began = time.perf_counter()
        for _ in range(calls):
            call()
        elapsed = time.perf_counter() - began
        if elapsed >= seconds / 4:
            return max(1, round(calls * seconds / elapsed))
        calls *= 2


def _batch(call: Callable[[], object], calls: int) -> float:
    gc.collect()
    began = time.perf_counter()
    for _ in range(calls):
        call()
    return calls / (time.perf_counter() - began)


@contextmanager
def _one_core() -> Iterator[int]:
    """Pin this process to one core (the last) while measuring."""
    if not hasattr(os, "sched_setaffinity"):
        yield -1
        return
    allowed = os.sched_getaffinity(0)
    core = max(allowed)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, allowed)
