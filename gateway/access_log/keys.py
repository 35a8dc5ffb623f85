"""The gateway's checkpoint-signing key (Ed25519), and the history of keys that signed.

Development generates it on first start (into var/keys/, readable by the owner only);
production must be given one: a file anywhere (GATEWAY_AUDIT_SIGNING_KEY), best on a
volume the database is not on, or a file descriptor inherited at start
(GATEWAY_AUDIT_SIGNING_KEY_FD), so the key need never be on disk where the service
runs. The log signs through `CheckpointSigner`: a PKCS#11 token or a cloud KMS key can
stand behind the same few methods. Its public half, and those of the keys it replaced,
are published with every export, so anyone can verify the log's checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import make_url

from gateway.access_log.checkpoint import KeyPeriod, key_id
from gateway.platform.errors import ConfigurationError
from gateway.platform.keyfiles import write_new_private_file


class CheckpointSigner(Protocol):
    """What the log needs of a signing key: its signed-note name, its public half and
    an Ed25519 signature over a checkpoint body. The private key may live elsewhere."""

    @property
    def name(self) -> str: ...

    @property
    def public_key(self) -> Ed25519PublicKey: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...

    def public_pem(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class AuditSigningKey:
    """A signer holding the Ed25519 private key in this process."""

    private_key: Ed25519PrivateKey
    # The signed-note key name: the log's origin line, which checkpoints carry.
    name: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def public_pem(self) -> bytes:
        return public_pem(self.public_key)


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A key that signed the log's checkpoints up to and including `until_tree_size`."""

    public_key: Ed25519PublicKey
    until_tree_size: int


@dataclass(frozen=True, slots=True)
class KeyHistory:
    """Every key that has signed this log (by key id under the log's origin), and the
    checkpoint sizes each may sign."""

    origin: str
    public_keys: dict[bytes, Ed25519PublicKey]
    periods: dict[bytes, KeyPeriod]

    @classmethod
    def of(cls, signer: CheckpointSigner, retired: Sequence[RetiredKey]) -> KeyHistory:
        keys: dict[bytes, Ed25519PublicKey] = {}
        periods: dict[bytes, KeyPeriod] = {}
        after = 0
        for old in retired:  # oldest first, checked at load
            identity = key_id(signer.name, old.public_key)
            keys[identity] = old.public_key
            periods[identity] = KeyPeriod(after, old.until_tree_size)
            after = old.until_tree_size
        keys[signer.key_id] = signer.public_key
        periods[signer.key_id] = KeyPeriod(after, None)
        return cls(signer.name, keys, periods)

    def public_pem(self) -> bytes:
        return b"".join(public_pem(key) for key in self.public_keys.values())

    def periods_json(self) -> list[dict[str, int | str | None]]:
        """The periods as an export's manifest lists them (`verify.load_export`)."""
        return [
            {
                "key_id": identity.hex(),
                "after_tree_size": period.after_tree_size,
                "until_tree_size": period.until_tree_size,
            }
            for identity, period in self.periods.items()
        ]


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sqlite_directory_holding(key: Path, database_url: str) -> Path | None:
    """The SQLite store's directory when `key` is in it (or below it), else None: whoever
    copies that directory would take the log and the key that vouches for it together."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    directory = Path(url.database).resolve().parent
    return directory if key.resolve().is_relative_to(directory) else None


def load_audit_signing_key(
    path: Path, *, name: str, generate_if_missing: bool, descriptor: int | None = None
) -> AuditSigningKey:
    """From the inherited file descriptor when given (read once, then closed), else from
    `path`, generated there in development."""
    if descriptor is not None:
        return _from_descriptor(descriptor, name)
    if not path.exists():
        if not generate_if_missing:
            raise ConfigurationError(
                f"the audit checkpoint key {path} does not exist (GATEWAY_AUDIT_SIGNING_KEY); "
                "production never generates one: provision an Ed25519 private key in PEM"
            )
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_new_private_file(path, pem)
    return _parsed(path.read_bytes(), str(path), name)


def _from_descriptor(descriptor: int, name: str) -> AuditSigningKey:
    where = f"GATEWAY_AUDIT_SIGNING_KEY_FD={descriptor}"
    try:
        with os.fdopen(descriptor, "rb") as file:
            pem = file.read()
    except OSError:
        raise ConfigurationError(f"{where}: not an open, readable file descriptor") from None
    return _parsed(pem, where, name)


def _parsed(pem: bytes, where: str, name: str) -> AuditSigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{where}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{where}: the audit checkpoint key must be an Ed25519 key")
    return AuditSigningKey(key, name)
