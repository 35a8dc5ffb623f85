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
