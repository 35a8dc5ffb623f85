"""A validly signed assertion whose claims are malformed is a 400 invalid_client, never a
500: the review sent `"exp": "<digits>"` and `"exp": 1e308` and got a server error.

For each JSON type a claim can be given in (a string, a fraction, a huge number, a
boolean, null, an array, an object), each of the assertion's claims is sent that way,
signed with the demo provider's registered key: every one is refused, no token is issued,
no jti is recorded, and the access log names the rule.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.platform.database import Database
from gateway.platform.schema import used_assertions
from tests.tokens import ALGORITHMS, PROVIDER, TOKEN_URL, private_key, token_form

CLAIMS = ("exp", "iat", "nbf", "iss", "sub", "aud", "jti")
NUMERIC_DATES = ("exp", "iat", "nbf")
MALFORMED_RULE = "token-endpoint:assertion-claim-malformed"


def _malformed(kind: str, claim: str, now: int) -> object:
    """The claim given as a value of this JSON type that it must not have."""
    if kind == "string":
        # A date written as text; a name left empty.
        return str(now + 60) if claim in NUMERIC_DATES else ""
    return {
        "fraction": now + 60.5,
        "huge-number": 1e308,
        "huge-integer": 10**30,
        "boolean": True,
        "null": None,
        "array": [now + 60],
        "object": {"value": now + 60} if claim in NUMERIC_DATES else {"id": PROVIDER},
    }[kind]


KINDS = (
    "string",
    "fraction",
    "huge-number",
    "huge-integer",
    "boolean",
    "null",
    "array",
    "object",
)


def _signed(claim: str, value: object) -> str:
    """Signed by the provider's registered key, whatever the claims hold (PyJWT's own
    encoder refuses to write some of these)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": PROVIDER,
        "sub": PROVIDER,
        "aud": TOKEN_URL,
        "exp": now + 240,
        "iat": now,
        "nbf": now,
        "jti": str(uuid.uuid4()),
        claim: value,
    }
    return jwt.api_jws.encode(
        json.dumps(claims).encode(),
        private_key(PROVIDER),
        algorithm=ALGORITHMS[PROVIDER],
        headers={"kid": f"{PROVIDER}-2026-11"},
    )


def _used(database: Database) -> int:
    with database.read() as connection:
        count = connection.execute(select(func.count()).select_from(used_assertions))
        return int(count.scalar_one())


def _refused_logins(client: TestClient, ig: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get(
        "/fhir/AuditEvent",
        params={"subtype": "110122", "outcome": "4", "_count": "100"},
        headers=ig,
    )
    assert response.status_code == 200, response.text
    return [entry["resource"] for entry in response.json().get("entry", [])]


@pytest.mark.parametrize("kind", KINDS)
def test_a_malformed_claim_is_a_400_invalid_client_naming_the_claim(
    anonymous: TestClient, database: Database, ig_token: dict[str, str], kind: str
) -> None:
    before = _used(database)

    for claim in CLAIMS:
        value = _malformed(kind, claim, int(time.time()))
        response = anonymous.post("/oauth2/token", data=token_form(_signed(claim, value)))

        assert response.status_code == 400, (claim, response.text)
        answer = response.json()
        assert answer["error"] == "invalid_client", claim
        assert claim in answer["error_description"]
        assert "access_token" not in answer
        assert response.headers["Cache-Control"] == "no-store"

    assert _used(database) == before
    refusals = _refused_logins(anonymous, ig_token)
    assert len(refusals) == len(CLAIMS)
    for event in refusals:
        assert MALFORMED_RULE in json.dumps(event["entity"])


def test_the_reviews_two_assertions_are_refused_not_a_server_error(
    anonymous: TestClient, database: Database
) -> None:
    for value in (str(int(time.time()) + 60), 1e308):
        response = anonymous.post("/oauth2/token", data=token_form(_signed("exp", value)))

        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": "invalid_client",
            "error_description": "exp must be an integer number of seconds since 1970 "
            "(a NumericDate) no later than the year 9999",
        }
    assert _used(database) == 0
