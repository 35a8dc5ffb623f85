"""The gateway's checkpoint-signing key (Ed25519).

Development generates it on first start (into var/keys/, readable by the owner only);
production must be given one. Its public half is published with every export, so that
anyone can verify the log's checkpoints on another machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.audit.checkpoint import key_id
from gateway.errors import ConfigurationError
from gateway.keyfiles import write_new_private_file


@dataclass(frozen=True, slots=True)
class AuditSigningKey:
    private_key: Ed25519PrivateKey
    # The signed-note key name: the log's origin line, which checkpoints carry.
    name: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def load_audit_signing_key(path: Path, *, name: str, generate_if_missing: bool) -> AuditSigningKey:
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
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"{path}: the audit checkpoint key must be an Ed25519 key")
    return AuditSigningKey(key, name)
