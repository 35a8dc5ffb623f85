"""Which load generator drives the create-throughput measurement: wrk, else httpx."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from bench import measure, wrk
from bench.measure import Bearer, Throughput

CLIENTS = ("auto", "wrk", "httpx")


@dataclass(frozen=True, slots=True)
class CreateLoad:
    clients: int  # concurrent connections
    wrk: str | None = None  # wrk's path; None: httpx from this process
    wrk_version: str = ""
    reason: str = ""  # why httpx, when it is httpx

    def describe(self) -> str:
        if self.wrk:
            return f"wrk {self.wrk_version}, 1 thread, {self.clients} connections"
        cores = os.cpu_count()
        return (
            f"httpx, one AsyncClient with {self.clients} connections ({self.reason}; "
            f"the client shares the {cores} cores with the server)"
        )

    def run(
        self, base: str, *, seconds: float, warmup: float, first_patient: int, bearer: Bearer
    ) -> Throughput:
        """POST ServiceRequests for `warmup` seconds (discarded), then `seconds` measured,
        with the Authorization header `bearer` gives (none if it is None)."""
        if not self.wrk:
            return measure.create_throughput(
                base,
                clients=self.clients,
                seconds=seconds,
                warmup=warmup,
                first_patient=first_patient,
                bearer=bearer,
            )
        result = wrk.measure(
            self.wrk,
            f"{base}/fhir/ServiceRequest",
            wrk.creates(first_patient),
            connections=self.clients,
            seconds=max(1, round(seconds)),  # wrk takes whole seconds
            warmup=round(warmup),
            bearer=bearer,
        )
        return result.throughput(f"wrk {self.wrk_version}", self.clients)


def create_load(choice: str, clients: int) -> CreateLoad:
    """`choice` is 'auto' (wrk if on PATH, else httpx), 'wrk' (required) or 'httpx'."""
    if choice not in CLIENTS:
        raise ValueError(f"unknown create client {choice!r}; choose from {', '.join(CLIENTS)}")
    if choice == "httpx":
        return CreateLoad(clients, reason="--create-client httpx")
    path = shutil.which("wrk")
    if path:
        return CreateLoad(clients, wrk=path, wrk_version=wrk.version(path))
    if choice == "wrk":
        raise SystemExit("--create-client wrk: wrk is not on PATH (Debian: apt install wrk)")
    return CreateLoad(clients, reason="wrk not found")
