"""How a real `gateway serve` meets the network: prod over TLS of its own or behind proxies
named by address, and X-Forwarded-For believed from those proxies only, as the address
the access log records shows."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from gateway.platform.database import Database
from gateway.platform.schema import audit_events
from tests.deployments import production_env
from tests.servers import (
    GATEWAY,
    free_port,
    gateway_env,
    gateway_forked,
    running_server,
    served_token,
)

CLAIMED = "198.51.100.1"  # what a caller writes into X-Forwarded-For itself
PROXY_SAW = "203.0.113.7"  # what the proxy in front appends: the peer it saw


def _recorded_addresses(database: Database, request_id: str) -> list[str]:
    """The caller's IP addresses in the AuditEvents of one request."""
    with database.read() as connection:
        contents = connection.execute(
            select(audit_events.c.content).where(audit_events.c.request_id == request_id)
        ).scalars()
        events = [json.loads(content) for content in contents]
    assert events, "the request left no AuditEvent"
    return [
        agent["network"]["address"]
        for event in events
        for agent in event["agent"]
        if agent.get("network", {}).get("type") == "2"
    ]


def _search_through_a_proxy(base: str, token: dict[str, str]) -> str:
    """A search whose X-Forwarded-For says: the caller claimed CLAIMED, the proxy saw
    PROXY_SAW. Returns its request id."""
    request_id = str(uuid.uuid4())
    response = httpx.get(
        f"{base}/fhir/ServiceRequest",
        headers={
            **token,
            "X-Request-ID": request_id,
            "X-Forwarded-For": f"{CLAIMED}, {PROXY_SAW}",
            "X-Forwarded-Proto": "https",
        },
    )
    assert response.status_code == 200, response.text
    return request_id


def test_prod_refuses_plain_http_without_tls_or_named_proxies(
    tmp_path: Path, database_url: str
) -> None:
    result = gateway_forked(
        database_url, "serve", "--port", str(free_port()), timeout=30, **production_env(tmp_path)
    )
    assert result.returncode == 2
    assert "does not serve plain HTTP" in result.stderr
    assert "GATEWAY_TRUSTED_PROXIES" in result.stderr
    assert "GATEWAY_TLS_CERTIFICATE" in result.stderr


def test_prod_behind_a_named_proxy_records_the_address_the_proxy_saw(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    port = free_port()
    env = production_env(
        tmp_path,
        GATEWAY_TRUSTED_PROXIES="127.0.0.1",
        GATEWAY_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    with running_server(database_url, port=port, **env) as base:
        token = served_token(base, config_dir=Path(env["GATEWAY_CONFIG_DIR"]))
        request_id = _search_through_a_proxy(base, token)
    # Not what the caller claimed further left: only the trusted proxy's own entry counts.
    assert _recorded_addresses(database, request_id) == [PROXY_SAW]


@pytest.mark.parametrize(
    "trusted", [None, "10.0.0.0/8,192.0.2.10"], ids=["no-proxies-named", "other-proxies"]
)
def test_forwarded_headers_from_a_peer_that_is_not_a_named_proxy_are_ignored(
    database_url: str, database: Database, trusted: str | None
) -> None:
    env = {"GATEWAY_TRUSTED_PROXIES": trusted} if trusted else {}
    with running_server(database_url, **env) as base:
        request_id = _search_through_a_proxy(base, served_token(base))
    assert _recorded_addresses(database, request_id) == ["127.0.0.1"]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "server.crt", directory / "server.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


def test_prod_serves_https_of_its_own_without_naming_proxies(
    tmp_path: Path, database_url: str
) -> None:
    certificate, key = _self_signed(tmp_path)
    env = production_env(
        tmp_path, GATEWAY_TLS_CERTIFICATE=str(certificate), GATEWAY_TLS_PRIVATE_KEY=str(key)
    )
    client = {"verify": ssl.create_default_context(cafile=str(certificate))}
    with running_server(database_url, scheme="https", client=client, **env) as base:
        assert base.startswith("https://")
        with httpx.Client(**client) as https:
            assert https.get(f"{base}/healthz").status_code == 200


def test_a_metrics_port_is_refused_for_several_worker_processes(database_url: str) -> None:
    serve = [*GATEWAY, "serve", "--port", str(free_port()), "--workers", "2"]
    result = subprocess.run(
        [*serve, "--metrics-port", str(free_port())],
        env=gateway_env(database_url),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--workers above 1" in result.stderr
