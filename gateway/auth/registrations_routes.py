"""GET /api/clients: the client registrations in force (clients.yaml), read-only.

A client sees its own organisation's registrations, and always the system-wide IG lead's:
every organisation may know who can read its events in the access log. Operators and the
system-wide IG lead see every registration. Keys and certificates are never listed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway.auth.authentication import authenticate
from gateway.auth.caller import Caller
from gateway.auth.clients import RegisteredClient
from gateway.web.runtime import RuntimeDep

router = APIRouter(prefix="/api", dependencies=[Depends(authenticate)])


@router.get("/clients", name="clients")
def clients(request: Request, runtime: RuntimeDep) -> JSONResponse:
    caller: Caller = request.state.caller
    config = runtime.config
    every = config.sees_every_organisation(caller.client_id)
    system_wide = config.system_wide_ig_lead
    listed = [
        registered
        for registered in config.clients
        if every or registered.organisation == caller.ods_code or registered is system_wide
    ]
    return JSONResponse(
        {
            "clients": [registration(client) for client in listed],
            "system_wide_ig_lead": None
            if system_wide is None
            else {"client_id": system_wide.client_id, "organisation": system_wide.organisation},
        }
    )


def registration(client: RegisteredClient) -> dict[str, Any]:
    """What a registration allows, as clients.yaml says it; never its keys."""
    body: dict[str, Any] = {"client_id": client.client_id, "organisation": client.organisation}
    if client.role is not None:
        body["role"] = client.role
    body["purpose_of_use"] = client.purpose_of_use
    if client.other_purposes_of_use:
        body["other_purposes_of_use"] = sorted(p.value for p in client.other_purposes_of_use)
    body["scopes"] = [str(scope) for scope in client.allowed_scopes.scopes]
    if client.role == "ig-lead":
        body["access_log"] = client.access_log
    return body
