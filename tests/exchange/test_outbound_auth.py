"""SMART Backend Services towards a Trust (respx at the boundary, both databases): the
gateway signs a client assertion with its key for that Trust, caches the token across
deliveries, and on a 401 fetches a fresh one once."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.configuration.loader import load_config
from gateway.exchange.deliveries import DeliveryState
from gateway.platform.database import Database
from gateway.platform.errors import ConfigurationError
from gateway.platform.settings import Settings
from tests.exchange.support import Clock, deliveries, gateway, handover, push
from tests.exchange.test_worker import ENDPOINT, TRUST, run_once, worker

TOKEN_URL = "https://auth.rzz.test/oauth2/token"
NHS_NUMBERS = ["9434765919", "9434765870"]


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture
def config(config_dir: Path, tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    target = tmp_path / "config"
    shutil.copytree(config_dir, target)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (target / "keys" / "rzz-client.pem").write_bytes(pem)
    (target / "endpoints.yaml").write_text(
        "endpoints:\n"
        "  - ods: RZZ\n"
        "    mode: push\n"
        f"    base_url: {TRUST}\n"
        "    authentication:\n"
        "      smart:\n"
        f"        token_url: {TOKEN_URL}\n"
        "        client_id: mh-gateway\n"
        "        private_key_file: keys/rzz-client.pem\n"
        "        key_id: rzz-1\n"
    )
    return target


@respx.mock
def test_a_token_is_fetched_with_a_signed_assertion_and_reused(
    settings: Settings, database: Database, config: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    tokens = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json={"access_token": "t-1", "expires_in": 300})
    )
    trust = respx.post(ENDPOINT).mock(return_value=httpx.Response(200))
    with gateway(settings, config) as client:
        for n, number in enumerate(NHS_NUMBERS):
            push(client, handover(f"SMART-{n}", number))
    run_once(worker(database, config, Clock()))
    assert [d.state for d in deliveries(database)] == [
        DeliveryState.DELIVERED,
        DeliveryState.DELIVERED,
    ]
    assert tokens.call_count == 1
    assert {call.request.headers["Authorization"] for call in trust.calls} == {"Bearer t-1"}
    form = parse_qs(tokens.calls.last.request.content.decode())
    assert form["grant_type"] == ["client_credentials"]
    assertion = form["client_assertion"][0]
    assert jwt.get_unverified_header(assertion)["kid"] == "rzz-1"
    claims = jwt.decode(assertion, key.public_key(), algorithms=["ES384"], audience=TOKEN_URL)
    assert claims["iss"] == claims["sub"] == "mh-gateway"


@respx.mock
def test_a_401_gets_one_fresh_token_and_then_stands(
    settings: Settings, database: Database, config: Path
) -> None:
    respx.post(TOKEN_URL).mock(
        side_effect=[
            httpx.Response(200, json={"access_token": "stale", "expires_in": 300}),
            httpx.Response(200, json={"access_token": "fresh", "expires_in": 300}),
            httpx.Response(200, json={"access_token": "fresh-2", "expires_in": 300}),
            httpx.Response(200, json={"access_token": "fresh-3", "expires_in": 300}),
        ]
    )
    trust = respx.post(ENDPOINT).mock(
        side_effect=[
            httpx.Response(401),
            httpx.Response(200),
            httpx.Response(401),
            httpx.Response(401),
        ]
    )
    with gateway(settings, config) as client:
        push(client, handover("SMART-401"))
    run_once(worker(database, config, Clock()))
    assert [d.state for d in deliveries(database)] == [DeliveryState.DELIVERED]
    assert [call.request.headers["Authorization"] for call in trust.calls] == [
        "Bearer stale",
        "Bearer fresh",
    ]
    with gateway(settings, config) as client:
        push(client, handover("SMART-401-b", NHS_NUMBERS[1]))
    run_once(worker(database, config, Clock()))
    assert [d.state for d in deliveries(database)] == [DeliveryState.DELIVERED, DeliveryState.DEAD]


def test_a_missing_key_file_stops_the_start(config: Path) -> None:
    (config / "keys" / "rzz-client.pem").unlink()
    with pytest.raises(ConfigurationError, match=r"authentication\.smart\.private_key_file"):
        load_config(config)


def test_key_files_are_found_in_the_configuration_directory(config: Path) -> None:
    loaded = load_config(config)
    endpoint = loaded.endpoints.push_endpoint("RZZ")
    assert endpoint is not None
    assert endpoint.authentication.smart is not None
    located = endpoint.authentication.smart.private_key_file
    assert located == (config / "keys" / "rzz-client.pem").resolve()
