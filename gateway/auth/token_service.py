"""The SMART Backend Services token endpoint's work: check the client's signed
assertion, refuse a replayed one, and issue a short-lived access token for the scopes
the client asked for and is allowed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection

from core.access_log.event import AuditedDecision
from gateway.access_log.trail import AccessTrail
from gateway.auth.access_tokens import AccessTokens, IssuedToken
from gateway.auth.assertion_store import UsedAssertions
from gateway.auth.assertions import (
    CLOCK_SKEW_SECONDS,
    AssertionRefused,
    verify_client_assertion,
)
from gateway.auth.clients import RegisteredClient
from gateway.auth.scopes import ScopeError, ScopeSet
from gateway.platform.errors import TokenRequestRefused
from gateway.platform.logging import get_logger

GRANT_TYPE = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

log = get_logger(__name__)


class TokenService:
    def __init__(
        self,
        find_client: Callable[[str], RegisteredClient | None],
        tokens: AccessTokens,
        connection: Connection,
        clock: Callable[[], datetime],
        *,
        trail: AccessTrail | None = None,
    ) -> None:
        self._find_client = find_client
        self._tokens = tokens
        # The jti of each assertion accepted, in the token request's transaction.
        self._used = UsedAssertions(connection)
        self._clock = clock
        # Records which client asked and, on refusal, the rule that refused it.
        self._trail = trail

    def issue(
        self,
        form: Mapping[str, str],
        token_url: str,
        *,
        certificate: str | None = None,
        certificate_required: bool = False,
    ) -> IssuedToken:
        """`certificate`: the SHA-256 of the client certificate presented over mutual TLS,
        which must then be the one registered to the asserting client."""
        if form.get("grant_type") != GRANT_TYPE:
            raise TokenRequestRefused(
                "unsupported_grant_type", "grant_type must be client_credentials"
            )
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise TokenRequestRefused(
                "invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}"
            )
        assertion, scope = form.get("client_assertion"), form.get("scope")
        if not assertion:
            raise TokenRequestRefused("invalid_request", "client_assertion is required")
        if not scope:
            raise TokenRequestRefused("invalid_request", "scope is required")
        now = self._clock()
        try:
            verified = verify_client_assertion(
                assertion, find_client=self._find_client, token_url=token_url, now=now
            )
        except AssertionRefused as refused:
            log.info("token.refused", reason=refused.reason)
            self._decided(f"assertion-{refused.reason}")
            raise TokenRequestRefused(
                "invalid_client", refused.description, malformed=refused.malformed
            ) from None
        client = verified.client
        if self._trail is not None:
            self._trail.claimed_client_id = client.client_id
        stated_client_id = form.get("client_id")
        if stated_client_id is not None and stated_client_id != client.client_id:
            raise TokenRequestRefused("invalid_client", "client_id must match the assertion")
        if certificate_required and (
            certificate is None or certificate != client.certificate_sha256
        ):
            log.info("token.refused", reason="certificate-mismatch", client_id=client.client_id)
            self._decided("certificate-mismatch")
            raise TokenRequestRefused(
                "invalid_client", "the client certificate is not registered to this client"
            )
        granted = _granted(client, scope)
        # Kept for as long as the assertion could still be accepted (skew included).
        keep_until = verified.expires_at + timedelta(seconds=CLOCK_SKEW_SECONDS)
        self._used.forget_expired(now)
        if not self._used.record(client.client_id, verified.jti, keep_until):
            log.info("token.refused", reason="jti-replayed", client_id=client.client_id)
            self._decided("jti-replayed")
            raise TokenRequestRefused("invalid_grant", "this assertion's jti was already used")
        log.info("token.issued", client_id=client.client_id)
        issued = self._tokens.issue(client, granted)
        self._decided("issued", detail=f"scopes: {issued.scopes}")
        return issued

    def _decided(self, rule: str, detail: str | None = None) -> None:
        if self._trail is not None:
            self._trail.decision = AuditedDecision(f"token-endpoint:{rule}", detail)


def _granted(client: RegisteredClient, scope: str) -> ScopeSet:
    try:
        requested = ScopeSet.parse(scope.split())
    except ScopeError as error:
        raise TokenRequestRefused("invalid_scope", str(error)) from None
    granted = client.allowed_scopes.narrowed_to(requested)
    if not granted:
        raise TokenRequestRefused("invalid_scope", "none of the requested scopes is allowed")
    return granted
