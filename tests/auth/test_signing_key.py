"""The gateway's own token-signing key: generated in development, refused unless P-256."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth.signing_key import ALGORITHM, key_id, load_signing_key
from gateway.platform.errors import ConfigurationError


def _b64url_coordinate(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


def _rfc7638_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """Computed from the key's numbers, independently of the JWK helpers under test."""
    numbers = public_key.public_numbers()
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64url_coordinate(numbers.x),
        "y": _b64url_coordinate(numbers.y),
    }
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _write_pem(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def test_the_algorithm_is_es256() -> None:
    assert ALGORITHM == "ES256"


def test_development_generates_a_p256_key_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "keys" / "signing.pem"
    key = load_signing_key(path, generate_if_missing=True)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert isinstance(key.private_key, ec.EllipticCurvePrivateKey)
    assert key.private_key.curve.name == "secp256r1"
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [entry.name for entry in path.parent.iterdir()] == ["signing.pem"]


def test_the_second_load_returns_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    first = load_signing_key(path, generate_if_missing=True)
    content = path.read_bytes()
    second = load_signing_key(path, generate_if_missing=True)
    assert second.kid == first.kid
    assert second.public_key.public_numbers() == first.public_key.public_numbers()
    assert path.read_bytes() == content


def test_two_generated_keys_differ(tmp_path: Path) -> None:
    first = load_signing_key(tmp_path / "a.pem", generate_if_missing=True)
    second = load_signing_key(tmp_path / "b.pem", generate_if_missing=True)
    assert first.kid != second.kid


def test_a_provisioned_p256_key_is_loaded_as_given(tmp_path: Path) -> None:
    path = tmp_path / "given.pem"
    private = ec.generate_private_key(ec.SECP256R1())
    _write_pem(path, private)
    key = load_signing_key(path, generate_if_missing=False)
    assert key.public_key.public_numbers() == private.public_key().public_numbers()


def test_a_missing_key_is_refused_when_generation_is_off(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.pem"
    with pytest.raises(ConfigurationError, match="does not exist") as raised:
        load_signing_key(path, generate_if_missing=False)
    assert str(path) in raised.value.message
    assert not path.exists()
    assert not path.parent.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a key\n", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
    ids=["empty", "text", "broken-pem"],
)
def test_a_file_that_is_not_a_pem_private_key_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        load_signing_key(path, generate_if_missing=True)
    assert path.read_bytes() == content


def test_an_encrypted_pem_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        load_signing_key(path, generate_if_missing=False)


def test_a_public_key_pem_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        load_signing_key(path, generate_if_missing=False)


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP384R1()),
        ec.generate_private_key(ec.SECP256K1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["p384", "secp256k1", "rsa"],
)
def test_a_key_that_is_not_p256_is_refused(
    tmp_path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "signing.pem"
    _write_pem(path, key)
    with pytest.raises(ConfigurationError, match="must be an EC P-256 key"):
        load_signing_key(path, generate_if_missing=True)


def test_the_kid_is_the_rfc7638_thumbprint_of_the_public_key(tmp_path: Path) -> None:
    key = load_signing_key(tmp_path / "signing.pem", generate_if_missing=True)
    assert key.kid == _rfc7638_thumbprint(key.public_key)
    assert key_id(key.public_key) == key.kid
    assert len(key.kid) == 43
    assert "=" not in key.kid


def test_the_thumbprint_pads_short_coordinates_to_the_curve_size() -> None:
    # About 1 key in 128 has a coordinate with a leading zero byte; RFC 7518 says the
    # coordinate keeps its full 32 bytes, and the thumbprint must agree.
    for _ in range(2000):
        public = ec.generate_private_key(ec.SECP256R1()).public_key()
        numbers = public.public_numbers()
        if numbers.x < 1 << 248 or numbers.y < 1 << 248:
            break
    else:
        pytest.fail("no key with a short coordinate in 2000 tries")
    assert key_id(public) == _rfc7638_thumbprint(public)


def test_the_kid_of_a_known_key_is_its_thumbprint_written_out_by_hand() -> None:
    # The private key 1 has the curve's generator G as its public key.
    public = ec.derive_private_key(1, ec.SECP256R1()).public_key()
    canonical = (
        '{"crv":"P-256","kty":"EC",'
        '"x":"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",'
        '"y":"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}'
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest())
    assert key_id(public) == expected.rstrip(b"=").decode()
    assert key_id(public) == "xx0BcA-wMohw8atYDJOe6peGModklG2wRHBlXHMvl0M"
