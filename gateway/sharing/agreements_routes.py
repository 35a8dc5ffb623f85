"""GET /api/agreements: the data-sharing agreements in force and in the registry, read-only.

A client sees the agreements its organisation is party to; operators and the system-wide
IG lead see them all. Agreements expiring within 30 days are listed as warnings.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from consent.agreements import england_date
from gateway.auth.authentication import authenticate
from gateway.auth.caller import Caller
from gateway.configuration.agreements import AgreementEntry
from gateway.configuration.summary import EXPIRY_WARNING_DAYS
from gateway.web.runtime import RuntimeDep

router = APIRouter(prefix="/api", dependencies=[Depends(authenticate)])


@router.get("/agreements", name="agreements")
def agreements(request: Request, runtime: RuntimeDep) -> JSONResponse:
    caller: Caller = request.state.caller
    now = runtime.clock()
    today = england_date(now)
    every = runtime.config.sees_every_organisation(caller.client_id)
    listed = [
        entry
        for entry in runtime.config.agreement_entries
        if every or caller.ods_code in {p.ods for p in entry.parties}
    ]
    body = {
        "as_of": today.isoformat(),
        "agreements": [_summary(entry, today) for entry in listed],
        "warnings": [
            {
                "agreement": entry.id,
                "version": entry.version,
                "message": f"Expires on {entry.valid_to} (within {EXPIRY_WARNING_DAYS} days).",
            }
            for entry in listed
            if entry.agreement().expires_within(today, EXPIRY_WARNING_DAYS)
        ],
    }
    return JSONResponse(body)


def _summary(entry: AgreementEntry, today: date) -> dict[str, Any]:
    agreement = entry.agreement()
    refusal = agreement.in_force_rule(today)
    body = entry.model_dump(mode="json", exclude_none=True)
    body["in_force"] = refusal is None
    if refusal is not None:
        body["not_in_force_because"] = refusal.value
    return body
