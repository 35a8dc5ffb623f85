"""Liveness and readiness for orchestrators and operators."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from gateway.api.runtime import RuntimeDep
from gateway.store import migrate

router = APIRouter()


@router.get("/healthz")
def healthz() -> JSONResponse:
    """The process is up and serving; says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
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


# Load balancers and orchestrators often probe with HEAD: answered here, not refused and
# logged as a 405 (which would fill the access log with probes). Kept out of the OpenAPI
# document, where a second method of one function would repeat its operation id.
router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/readyz", readyz, methods=["HEAD"], include_in_schema=False)
