"""audit-log.yaml: the access log's witnesses, the logs this gateway witnesses for other
parties, and the keys that signed this log's checkpoints before the current one.

    witnesses:                 # where each new checkpoint is sent
      - name: archive-volume
        file: /mnt/witness/audit-checkpoints.ndjson    # append-only, another volume
      - name: trust-gateway
        url: https://trust-gateway.example/audit/witness
        token_file: /run/secrets/trust-witness-token   # the bearer token it gave us
    witnessing:                # other parties' logs this gateway holds checkpoints of
      - origin: mh-gateway/trust/audit
        public_key_file: keys/trust-audit-public.pem
        token_sha256: <hex SHA-256 of the token given to that party>
    retired_signing_keys:      # oldest first
      - public_key_file: keys/audit-2026-public.pem
        until_tree_size: 15000

Relative paths are relative to the configuration directory. No file: no witnesses, and
the current key is the only one that ever signed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from gateway.access_log.checkpoint import CheckpointError, load_public_keys_pem
from gateway.access_log.keys import RetiredKey
from gateway.platform.errors import ConfigurationError

_WitnessName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._\-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WitnessEntry(_Strict):
    name: _WitnessName
    file: Path | None = None
    url: HttpUrl | None = None
    token_file: Path | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> WitnessEntry:
        if (self.file is None) == (self.url is None):
            raise ValueError("a witness is either a file or a url")
        if (self.url is None) != (self.token_file is None):
            raise ValueError("an HTTP witness needs token_file (and a file witness none)")
        return self


class WitnessedLogEntry(_Strict):
    origin: str = Field(pattern=r"^[^\s+\x00-\x1f\x7f]+$")
    public_key_file: Path
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class RetiredKeyEntry(_Strict):
    public_key_file: Path
    until_tree_size: int = Field(ge=1)


class AuditLogEntries(_Strict):
    witnesses: tuple[WitnessEntry, ...] = ()
    witnessing: tuple[WitnessedLogEntry, ...] = ()
    retired_signing_keys: tuple[RetiredKeyEntry, ...] = ()

    @model_validator(mode="after")
    def _distinct(self) -> AuditLogEntries:
        names = [witness.name for witness in self.witnesses]
        if len(names) != len(set(names)):
            raise ValueError("each witness name may appear only once")
        origins = [log.origin for log in self.witnessing]
        if len(origins) != len(set(origins)):
            raise ValueError("each witnessed origin may appear only once")
        sizes = [key.until_tree_size for key in self.retired_signing_keys]
        if sizes != sorted(set(sizes)):
            raise ValueError("retired keys are listed oldest first, by increasing size")
        return self


@dataclass(frozen=True, slots=True)
class FileWitness:
    name: str
    path: Path


@dataclass(frozen=True, slots=True)
class HttpWitness:
    name: str
    url: str
    token: str


Witness = FileWitness | HttpWitness


@dataclass(frozen=True, slots=True)
class WitnessedLog:
    """Another party's log: its checkpoints are verified against `public_key`, and it
    authenticates with a bearer token whose SHA-256 is `token_sha256`."""

    origin: str
    public_key: Ed25519PublicKey
    token_sha256: str

    def accepts_token(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return hmac.compare_digest(digest, self.token_sha256)


@dataclass(frozen=True, slots=True)
class AuditLogConfig:
    witnesses: tuple[Witness, ...] = ()
    witnessing: tuple[WitnessedLog, ...] = ()
    retired_signing_keys: tuple[RetiredKey, ...] = ()

    def witness(self, name: str) -> Witness | None:
        return next((w for w in self.witnesses if w.name == name), None)

    def witnessed_log(self, origin: str) -> WitnessedLog | None:
        return next((log for log in self.witnessing if log.origin == origin), None)


def resolve(path: Path, entries: AuditLogEntries) -> AuditLogConfig:
    """The entries of `path` with their files read; a missing or bad one stops the start."""
    here = path.parent

    def located(value: Path) -> Path:
        return value if value.is_absolute() else (here / value).resolve()

    def one_key(where: str, value: Path) -> Ed25519PublicKey:
        try:
            keys = load_public_keys_pem(located(value).read_bytes())
        except OSError:
            raise ConfigurationError(f"{path}: {where}: file is missing") from None
        except CheckpointError as error:
            raise ConfigurationError(f"{path}: {where}: {error}") from None
        if len(keys) != 1:
            raise ConfigurationError(f"{path}: {where}: must hold exactly one public key")
        return keys[0]

    witnesses: list[Witness] = []
    for index, entry in enumerate(entries.witnesses):
        if entry.file is not None:
            witnesses.append(FileWitness(entry.name, located(entry.file)))
            continue
        assert entry.url is not None
        assert entry.token_file is not None
        try:
            token = located(entry.token_file).read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigurationError(
                f"{path}: witnesses.{index}.token_file: file is missing"
            ) from None
        if not token:
            raise ConfigurationError(f"{path}: witnesses.{index}.token_file: file is empty")
        witnesses.append(HttpWitness(entry.name, str(entry.url), token))
    witnessing = tuple(
        WitnessedLog(
            log.origin,
            one_key(f"witnessing.{index}.public_key_file", log.public_key_file),
            log.token_sha256,
        )
        for index, log in enumerate(entries.witnessing)
    )
    retired = tuple(
        RetiredKey(
            one_key(f"retired_signing_keys.{index}.public_key_file", key.public_key_file),
            key.until_tree_size,
        )
        for index, key in enumerate(entries.retired_signing_keys)
    )
    return AuditLogConfig(tuple(witnesses), witnessing, retired)
