"""Liveness and readiness for orchestrators and operators."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from gateway.platform import readiness
from gateway.platform.runtime import Runtime
from gateway.web.runtime import RuntimeDep

router = APIRouter()


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process is up and serving; says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Ready to take traffic: the database answers, its schema is the one this code
    needs, and the access log can be written. Answered within the readiness timeout
    whatever the database does (a partition answers 503, it does not hang)."""
    probe = _probe(request, runtime)
    result = readiness.Readiness("unreachable")
    with anyio.move_on_after(runtime.settings.readiness_timeout_seconds):
        result = await anyio.to_thread.run_sync(
            readiness.check, probe.engine, abandon_on_cancel=True, limiter=probe.threads
        )
    body = {"status": "ready" if result.ready else "unavailable", "database": result.database}
    if result.migrations is not None:
        body["migrations"] = result.migrations
    if result.access_log is not None:
        body["access_log"] = result.access_log
    return JSONResponse(body, 200 if result.ready else 503)


# Probes whose thread is still waiting on a database that does not answer: a few at
# most, so a partition cannot use up the thread pool requests need.
_PROBE_THREADS = 4


@dataclass(frozen=True, slots=True)
class _Probe:
    engine: Engine
    threads: anyio.CapacityLimiter


def _probe(request: Request, runtime: Runtime) -> _Probe:
    """The probes' own pool-less engine, built on first use (in the event loop)."""
    probe = getattr(request.app.state, "readiness_probe", None)
    if not isinstance(probe, _Probe):
        seconds = runtime.settings.readiness_timeout_seconds
        probe = _Probe(
            runtime.database.probe_engine(seconds), anyio.CapacityLimiter(_PROBE_THREADS)
        )
        request.app.state.readiness_probe = probe
    return probe


# Load balancers and orchestrators often probe with HEAD: answered here, not refused and
# logged as a 405 (which would fill the access log with probes). Kept out of the OpenAPI
# document, where a second method of one function would repeat its operation id.
router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)
