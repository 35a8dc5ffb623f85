"""Who is calling: the bearer token checked on every data route, the client certificate
where a deployment requires mutual TLS, the per-client rate limit, and the BaRS
end-user headers. The result (a Caller) is all that services see of the request."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import Request

from core.fhir.models import SUPPORTED_RESOURCE_TYPES
from gateway.access_log.recording import trail_of
from gateway.auth.access_tokens import InvalidAccessToken
from gateway.auth.caller import Caller
from gateway.auth.end_user import (
    END_USER_ORGANISATION,
    REQUESTING_PRACTITIONER,
    EndUserHeaderError,
    end_user_from_headers,
)
from gateway.auth.purpose import (
    JUSTIFICATION_HEADER,
    PURPOSE_OF_USE_HEADER,
    PurposeHeaderError,
    justification,
    requested_purpose,
)
from gateway.auth.rate_limit import retry_after_header
from gateway.auth.scopes import Interaction
from gateway.platform.errors import (
    Forbidden,
    GatewayError,
    InsufficientScope,
    InvalidHeader,
    TooManyRequests,
    Unauthorized,
)
from gateway.platform.logging import get_logger
from gateway.platform.runtime import Runtime
from gateway.web.runtime import RuntimeDep
from gateway.web.tls import CLIENT_CERTIFICATE_STATE

_BEARER = re.compile(r"Bearer ([A-Za-z0-9\-._~+/]+=*)", re.IGNORECASE)

log = get_logger(__name__)


async def authenticate(request: Request, runtime: RuntimeDep) -> Caller:
    """Async on purpose: it never blocks (a verified token is cached; a new one costs one
    signature check, about 0.15 ms), and a sync dependency would cost a thread-pool hop
    (about 0.1 ms) on every request."""
    header = request.headers.get("authorization")
    if header is None:
        # RFC 6750: a request with no credentials gets a challenge without an error code.
        raise _anonymous(
            request,
            runtime,
            Unauthorized(
                "This endpoint needs an access token: get one from /oauth2/token "
                "(SMART Backend Services) and send it as Authorization: Bearer <token>.",
                error=None,
            ),
        )
    match = _BEARER.fullmatch(header.strip())
    if match is None:
        raise _anonymous(
            request,
            runtime,
            Unauthorized("The Authorization header must be Bearer <access token>."),
        )
    try:
        claims = runtime.tokens.verify(match[1])
    except InvalidAccessToken as invalid:
        log.info("auth.refused", reason=invalid.reason)
        message = (
            "The access token has expired; get a new one."
            if invalid.reason == "expired"
            else "The access token is not valid here."
        )
        raise _anonymous(request, runtime, Unauthorized(message)) from None
    client = runtime.config.client(claims.client_id)
    # A client removed from (or moved in) the registry loses access at once.
    if client is None or client.organisation != claims.ods_code:
        log.info("auth.refused", reason="client-not-registered")
        raise _anonymous(
            request, runtime, Unauthorized("The access token's client is no longer registered.")
        )
    if (trail := trail_of(request)) is not None:
        # Authenticated from here on: a refusal below (a header, the rate limit) is logged
        # as this client's, so that its organisation's IG lead sees it.
        trail.claimed_client_id = client.client_id
    if runtime.settings.tls_client_ca is not None:
        presented = request.scope.get("state", {}).get(CLIENT_CERTIFICATE_STATE)
        if presented is None or presented != client.certificate_sha256:
            log.info("auth.refused", reason="certificate-mismatch", client_id=client.client_id)
            raise Unauthorized(
                "The client certificate is not the one registered to this token's client."
            )
    per_second = client.rate_per_second or runtime.settings.rate_limit_per_second
    burst = client.rate_burst or runtime.settings.rate_limit_burst
    if runtime.shared_rate_limiter is not None:
        # One bucket per client for every process on the store (gateway.auth.shared_rate_limit).
        wait = await runtime.shared_rate_limiter.acquire(client.client_id, per_second, burst)
    else:
        wait = runtime.rate_limiter.acquire(client.client_id, per_second, burst)
    if wait is not None:
        log.info("auth.throttled", client_id=client.client_id)
        raise TooManyRequests(
            "Too many requests from this client; retry after the time in Retry-After.",
            retry_after=retry_after_header(wait),
        )
    try:
        end_user = end_user_from_headers(
            request.headers.get(END_USER_ORGANISATION),
            request.headers.get(REQUESTING_PRACTITIONER),
        )
    except EndUserHeaderError as error:
        raise InvalidHeader(str(error), expression=error.header) from None
    try:
        purpose = requested_purpose(request.headers.get(PURPOSE_OF_USE_HEADER))
        stated = justification(request.headers.get(JUSTIFICATION_HEADER))
    except PurposeHeaderError as error:
        raise InvalidHeader(str(error), expression=error.header) from None
    if purpose is not None and not client.allows(purpose):
        raise Forbidden(
            f"This client's registration does not allow the purpose of use {purpose.value}.",
            expression=PURPOSE_OF_USE_HEADER,
        )
    caller = Caller(
        client_id=claims.client_id,
        ods_code=claims.ods_code,
        role=claims.role,
        scopes=claims.scopes,
        purpose_of_use=claims.purpose_of_use,
        end_user=end_user,
        requested_purpose=purpose,
        justification=stated,
    )
    request.state.caller = caller
    return caller


def _anonymous(request: Request, runtime: Runtime, refusal: Unauthorized) -> GatewayError:
    """A request without a valid token is refused 401, or 429 once its address has sent
    more of them than the anonymous rate allows (per address, so a flood from one does
    not lock out another, and each refusal costs a bucket lookup, not an audit row)."""
    settings = runtime.settings
    wait = runtime.rate_limiter.acquire(
        f"anonymous {source_address(request)}",
        settings.anonymous_rate_limit_per_second,
        settings.anonymous_rate_limit_burst,
    )
    if wait is None:
        return refusal
    log.info("auth.throttled", reason="anonymous")
    return TooManyRequests(
        "Too many requests without a valid access token from this address; retry after "
        "the time in Retry-After.",
        retry_after=retry_after_header(wait),
    )


def source_address(request: Request) -> str:
    """The caller's network address, as the server was told it (a proxy's, unless the
    deployment trusts the proxy's forwarded headers)."""
    return request.client.host if request.client else "unknown"


def requires(interaction: Interaction) -> Callable[[Request], Awaitable[None]]:
    """A route dependency that refuses early (before the body is read) when the token
    does not grant the interaction on the path's resource type."""

    async def check(request: Request) -> None:
        caller: Caller = request.state.caller
        resource_type = request.path_params.get("resource_type", "")
        # An unknown type is answered 404 by the route itself.
        if resource_type in SUPPORTED_RESOURCE_TYPES and not caller.may(resource_type, interaction):
            raise InsufficientScope(
                f"The access token does not grant this on {resource_type}: it needs "
                f"the scope system/{resource_type}.{interaction.value}."
            )

    return check
