"""Liveness and readiness for orchestrators and operators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from gateway.api.runtime import RuntimeDep
from gateway.store import migrate

router = APIRouter()

# Load balancers and orchestrators often probe with HEAD: answered here, not refused and
# logged as a 405 (which would fill the access log with probes).
_PROBE_METHODS = ["GET", "HEAD"]


@router.api_route("/healthz", methods=_PROBE_METHODS)
def healthz() -> JSONResponse:
    """The process is up and serving; says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


@router.api_route("/readyz", methods=_PROBE_METHODS)
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready to take traffic: the database answers and its schema is the one this code needs."""
    try:
        runtime.database.ping()
        current = migrate.is_current(runtime.database)
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    if not current:
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": "not current"}, 503
        )
    return JSONResponse({"status": "ready", "database": "ok", "migrations": "current"})
