"""Mutual TLS with a real `gateway serve`, using certificates the test makes: a client
certificate must come from the configured CA and be the one registered to the client
whose token it presents."""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.builders import service_request
from tests.conftest import DEMO_CONFIG
from tests.servers import running_server
from tests.tokens import PROVIDER, assertion, token_form

FHIR = {"Content-Type": "application/fhir+json"}


@dataclass(frozen=True)
class Identity:
    certificate: Path
    key: Path

    @property
    def thumbprint(self) -> str:
        loaded = x509.load_pem_x509_certificate(self.certificate.read_bytes())
        return loaded.fingerprint(hashes.SHA256()).hex()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    directory: Path,
    label: str,
    subject: str,
    issuer: tuple[x509.Name, Any] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> tuple[Identity, x509.Name, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer is not None else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    certificate = builder.sign(issuer_key, hashes.SHA256())
    certificate_path, key_path = directory / f"{label}.crt", directory / f"{label}.key"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Identity(certificate_path, key_path), _name(subject), key


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Identity
    registered: Identity  # from the CA, registered to the demo provider's client
    unregistered: Identity  # from the CA, registered to nobody
    rogue: Identity  # self-signed


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_name, ca_key = _issue(directory, "ca", "Test CA", None, ca=True)
    server, _, _ = _issue(directory, "server", "127.0.0.1", (ca_name, ca_key), server=True)
    registered, _, _ = _issue(directory, "registered", "provider-epr", (ca_name, ca_key))
    unregistered, _, _ = _issue(directory, "unregistered", "someone", (ca_name, ca_key))
    rogue, _, _ = _issue(directory, "rogue", "provider-epr", None)
    return Pki(ca.certificate, server, registered, unregistered, rogue)


def _client(pki: Pki, identity: Identity | None) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if identity is not None:
        context.load_cert_chain(str(identity.certificate), str(identity.key))
    return {"verify": context}


@pytest.fixture
def mtls_server(pki: Pki, database_url: str, tmp_path: Path) -> Any:
    config = tmp_path / "config"
    shutil.copytree(DEMO_CONFIG, config)
    clients = config / "clients.yaml"
    clients.write_text(
        clients.read_text().replace(
            "    organisation: AZZ\n",
            f"    organisation: AZZ\n    certificate_sha256: {pki.registered.thumbprint}\n",
            1,
        )
    )
    with running_server(
        database_url,
        scheme="https",
        client=_client(pki, pki.registered),
        GATEWAY_CONFIG_DIR=str(config),
        GATEWAY_TLS_CERTIFICATE=str(pki.server.certificate),
        GATEWAY_TLS_PRIVATE_KEY=str(pki.server.key),
        GATEWAY_TLS_CLIENT_CA=str(pki.ca),
    ) as base:
        yield base


def _token(base: str, pki: Pki, identity: Identity) -> httpx.Response:
    signed = assertion(PROVIDER, audience=f"{base}/oauth2/token")
    with httpx.Client(**_client(pki, identity), timeout=10) as http:
        return http.post(f"{base}/oauth2/token", data=token_form(signed))


def test_the_registered_certificate_and_its_clients_token_are_served(
    mtls_server: str, pki: Pki
) -> None:
    token = _token(mtls_server, pki, pki.registered)
    assert token.status_code == 200, token.text
    headers = FHIR | {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(**_client(pki, pki.registered), timeout=10) as http:
        created = http.post(
            f"{mtls_server}/fhir/ServiceRequest", json=service_request(), headers=headers
        )
    assert created.status_code == 201
    assert created.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_client_certificate_or_one_from_another_ca_cannot_connect(
    mtls_server: str, pki: Pki
) -> None:
    for identity in (None, pki.rogue):
        with (
            httpx.Client(**_client(pki, identity), timeout=10) as http,
            pytest.raises(httpx.TransportError),
        ):
            http.get(f"{mtls_server}/fhir/metadata")


def test_a_certificate_registered_to_nobody_gets_no_token_and_cannot_use_one(
    mtls_server: str, pki: Pki
) -> None:
    refused = _token(mtls_server, pki, pki.unregistered)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"

    token = _token(mtls_server, pki, pki.registered).json()["access_token"]
    with httpx.Client(**_client(pki, pki.unregistered), timeout=10) as http:
        stolen = http.get(
            f"{mtls_server}/fhir/ServiceRequest", headers={"Authorization": f"Bearer {token}"}
        )
    assert stolen.status_code == 401
    assert stolen.json()["resourceType"] == "OperationOutcome"
