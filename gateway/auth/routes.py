"""SMART Backend Services: the token endpoint and its discovery document."""

from __future__ import annotations

from functools import partial
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway.access_log.recording import append_in, start_trail, success_events, trail_of
from gateway.auth.authentication import source_address
from gateway.auth.client_keys import ALLOWED_ALGORITHMS
from gateway.auth.rate_limit import retry_after_header
from gateway.auth.token_service import TokenService
from gateway.platform.clock import utc_now
from gateway.platform.errors import TokenRequestRefused, TokenRequestThrottled
from gateway.platform.runtime import gate
from gateway.web.deps import read_limited
from gateway.web.runtime import RuntimeDep
from gateway.web.tls import CLIENT_CERTIFICATE_STATE

router = APIRouter()

# OAuth responses carrying tokens must never be cached (RFC 6749 section 5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_FORM_BYTES = 16_384


def token_endpoint_url(request: Request, public_base_url: str | None) -> str:
    base = public_base_url.rstrip("/") if public_base_url else str(request.base_url).rstrip("/")
    return f"{base}/oauth2/token"


@router.post("/oauth2/token", dependencies=[Depends(start_trail)], name="token")
async def token(request: Request, runtime: RuntimeDep) -> JSONResponse:
    _within_rate(request, runtime)
    form = await _token_form(request)
    token_url = token_endpoint_url(request, runtime.settings.public_base_url)
    async with gate(runtime).write() as connection:
        service = TokenService(
            runtime.config.client,
            runtime.tokens,
            connection,
            utc_now,
            trail=trail_of(request),
        )
        # Signature checks and the replay record are blocking work: a worker thread.
        issued = await anyio.to_thread.run_sync(
            partial(
                service.issue,
                form,
                token_url,
                certificate=request.scope.get("state", {}).get(CLIENT_CERTIFICATE_STATE),
                certificate_required=runtime.settings.tls_client_ca is not None,
            )
        )
        # Issued and recorded together: no token exists that the log does not show.
        await append_in(connection, success_events(request, runtime))
    return JSONResponse(
        {
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": issued.expires_in,
            "scope": str(issued.scopes),
        },
        headers=_NO_STORE,
    )


@router.get("/.well-known/smart-configuration")
def smart_configuration(request: Request, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(
        {
            "token_endpoint": token_endpoint_url(request, runtime.settings.public_base_url),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ALLOWED_ALGORITHMS),
            "scopes_supported": ["system/*.cruds", "system/*.read", "system/*.write"],
            "capabilities": ["client-confidential-asymmetric", "permission-v2", "permission-v1"],
        }
    )


def _within_rate(request: Request, runtime: RuntimeDep) -> None:
    """Token requests per source address, before any work (a signature check, a replay
    record): a flood of assertions, good or bad, is answered 429 cheaply."""
    settings = runtime.settings
    wait = runtime.rate_limiter.acquire(
        f"token {source_address(request)}",
        settings.token_rate_limit_per_second,
        settings.token_rate_limit_burst,
    )
    if wait is not None:
        raise TokenRequestThrottled(
            "Too many token requests from this address; retry after the time in Retry-After.",
            retry_after=retry_after_header(wait),
        )


async def _token_form(request: Request) -> dict[str, str]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise TokenRequestRefused(
            "invalid_request", "send the token request as application/x-www-form-urlencoded"
        )
    try:
        body = await read_limited(request, _MAX_FORM_BYTES)
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise TokenRequestRefused("invalid_request", "the form body is malformed") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # RFC 6749 section 3.2: parameters must not be sent more than once.
            raise TokenRequestRefused("invalid_request", f"{name} is sent more than once")
        form[name] = value
    return form
