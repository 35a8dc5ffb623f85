"""Verifying a SMART Backend Services client assertion (RFC 7523 private_key_jwt).

Pure apart from the clock: the caller records the jti (replay) in the store afterwards.
Refusals say what was wrong with the assertion in terms a client developer can act on;
an unknown client and a bad signature read the same, so clients cannot be enumerated.
An assertion that is not well formed (not a JWT, a required claim missing, a claim of the
wrong JSON type or out of range) is refused before any key is looked at, as malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from core.fhir.json_input import has_lone_surrogate
from gateway.auth.client_keys import ALLOWED_ALGORITHMS
from gateway.auth.clients import RegisteredClient

# SMART: an assertion expires no more than five minutes after it is made.
MAX_ASSERTION_LIFETIME_SECONDS = 300
# Tolerated clock difference between a client and the gateway.
CLOCK_SKEW_SECONDS = 30
_MAX_JTI_LENGTH = 255
_AUTHENTICATION_FAILED = "client authentication failed"
_REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "jti")
# 9999-12-31T23:59:59Z: the last second a datetime holds, so no NumericDate overflows it.
_LAST_NUMERIC_DATE = 253_402_300_799


class AssertionRefused(Exception):
    """The assertion is not accepted. `reason` is a short fixed code for the logs;
    `malformed` says the assertion could not be read at all (the request is bad), as
    against one that was read and does not authenticate the client."""

    def __init__(self, reason: str, description: str, *, malformed: bool = False) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description
        self.malformed = malformed


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    client: RegisteredClient
    jti: str
    expires_at: datetime


def verify_client_assertion(
    assertion: str,
    *,
    find_client: Callable[[str], RegisteredClient | None],
    token_url: str,
    now: datetime,
) -> VerifiedAssertion:
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AssertionRefused(
            "malformed", "client_assertion is not a signed JWT", malformed=True
        ) from None
    _check_claim_shapes(unverified)
    algorithm = header.get("alg")
    if algorithm not in ALLOWED_ALGORITHMS:
        raise AssertionRefused("algorithm", "the assertion must be signed with RS384 or ES384")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AssertionRefused("kid-missing", "the assertion header must carry a kid")
    issuer, subject = unverified.get("iss"), unverified.get("sub")
    if not isinstance(issuer, str) or issuer != subject:
        raise AssertionRefused("iss-sub", "iss and sub must both be the client id")
    client = find_client(issuer)
    if client is None:
        raise AssertionRefused("unknown-client", _AUTHENTICATION_FAILED)
    keys = client.keys_named(kid)
    if len(keys) > 1:
        raise AssertionRefused(
            "kid-ambiguous", "the kid names more than one of the client's registered keys"
        )
    if not keys or keys[0].algorithm != algorithm:
        raise AssertionRefused("kid-unknown", _AUTHENTICATION_FAILED)
    claims = _verified_claims(assertion, keys[0].key, algorithm, client.client_id, token_url, now)
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    if (expires_at - now).total_seconds() > MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise AssertionRefused(
            "exp-too-far", "exp may be at most five minutes after the assertion is made"
        )
    return VerifiedAssertion(client, claims["jti"], expires_at)


def _check_claim_shapes(claims: Mapping[str, Any]) -> None:
    """Every claim the gateway reads has the JSON type and range it must have, so that
    nothing after this (PyJWT's checks, date arithmetic) meets a value it cannot handle."""
    for name in _REQUIRED_CLAIMS:
        if name not in claims:
            raise AssertionRefused(
                "claim-missing", f"the assertion must carry the {name} claim", malformed=True
            )
    for name, well_formed, description in _CLAIM_SHAPES:
        if name in claims and not well_formed(claims[name]):
            raise AssertionRefused("claim-malformed", description, malformed=True)


def _is_numeric_date(value: object) -> bool:
    # SMART Backend Services: exp is an integer; iat and nbf are read the same way. A
    # bool is an int to Python, and a fraction or a huge number overflows a datetime.
    return type(value) is int and 0 <= value <= _LAST_NUMERIC_DATE


def _is_name(value: object) -> bool:
    # A lone surrogate ("\ud800" as a JSON escape) is no character: it cannot be stored.
    return isinstance(value, str) and bool(value) and not has_lone_surrogate(value)


def _is_audience(value: object) -> bool:
    # RFC 7519 section 4.1.3: one string, or an array of strings.
    if isinstance(value, list):
        return bool(value) and all(_is_name(item) for item in value)
    return _is_name(value)


def _is_jti(value: object) -> bool:
    return _is_name(value) and 0 < len(str(value)) <= _MAX_JTI_LENGTH


def _numeric_date_shape(name: str) -> tuple[str, Callable[[object], bool], str]:
    return (
        name,
        _is_numeric_date,
        f"{name} must be an integer number of seconds since 1970 (a NumericDate) "
        "no later than the year 9999",
    )


_CLAIM_SHAPES: tuple[tuple[str, Callable[[object], bool], str], ...] = (
    _numeric_date_shape("exp"),
    _numeric_date_shape("iat"),
    _numeric_date_shape("nbf"),
    ("iss", _is_name, "iss must be the client id, as a string"),
    ("sub", _is_name, "sub must be the client id, as a string"),
    ("aud", _is_audience, "aud must be this token endpoint's URL, as a string or strings"),
    ("jti", _is_jti, "jti must be a string of 1 to 255 Unicode characters"),
)


def _verified_claims(
    assertion: str, key: Any, algorithm: str, client_id: str, token_url: str, now: datetime
) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            key,
            algorithms=[algorithm],
            audience=token_url,
            issuer=client_id,
            subject=client_id,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "sub", "aud", "exp", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise AssertionRefused("expired", "the assertion has expired") from None
    except jwt.InvalidAudienceError:
        raise AssertionRefused("aud", "aud must be this token endpoint's URL") from None
    except jwt.MissingRequiredClaimError as error:
        raise AssertionRefused(
            "claim-missing", f"the assertion must carry the {error.claim} claim"
        ) from None
    except jwt.exceptions.InvalidJTIError:
        raise AssertionRefused("jti", "jti must be a string of 1 to 255 characters") from None
    except jwt.ImmatureSignatureError:
        raise AssertionRefused("not-yet-valid", "the assertion is not valid yet") from None
    except jwt.PyJWTError:
        raise AssertionRefused("signature", _AUTHENTICATION_FAILED) from None
    # PyJWT checks exp against its own clock; the gateway's clock decides here too.
    if claims["exp"] + CLOCK_SKEW_SECONDS < now.timestamp():
        raise AssertionRefused("expired", "the assertion has expired")
    return claims
