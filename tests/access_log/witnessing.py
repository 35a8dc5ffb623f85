"""Helpers for the witness and key tests: deployments with an audit-log.yaml, a store
rolled back as an insider would, and the operator's commands with their settings."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select

from gateway.access_log.checkpoint import SignedCheckpoint
from gateway.platform.database import Database
from gateway.platform.schema import audit_checkpoints, audit_events, audit_nodes, audit_references
from tests.conftest import DEMO_CONFIG
from tests.servers import gateway_forked

T = TypeVar("T")


def deployment(directory: Path, *, name: str = "demo", **audit_log: Any) -> Path:
    """The demo configuration under another deployment name, with this audit-log.yaml."""
    shutil.copytree(DEMO_CONFIG, directory)
    (directory / "deployment.yaml").write_text(f"name: {name}\ndemo: true\n")
    if audit_log:
        (directory / "audit-log.yaml").write_text(yaml.safe_dump(audit_log))
    return directory


def new_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return key


def public_pem(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def audit(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return gateway_forked(database_url, "audit", *args, **env)


def wait_for(probe: Callable[[], T | None], what: str, seconds: float = 30) -> T:
    """Poll until `probe` answers (monotonic deadline: safe under faketime)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def checkpoint_sizes(database: Database) -> list[int]:
    with database.read() as connection:
        query = select(audit_checkpoints.c.tree_size).order_by(audit_checkpoints.c.tree_size)
        return [int(size) for size in connection.execute(query).scalars()]


def latest_in(database: Database) -> SignedCheckpoint | None:
    with database.read() as connection:
        row = connection.execute(
            select(audit_checkpoints.c.signed)
            .order_by(audit_checkpoints.c.tree_size.desc())
            .limit(1)
        ).scalar()
    return None if row is None else SignedCheckpoint.from_json(json.loads(row))


def roll_back(database: Database, size: int) -> None:
    """What an insider with database access does to hide the newest events: delete them,
    the checkpoints after `size` and the subtree hashes over them, all together, so that
    what remains is a consistent, smaller log."""
    with database.write() as connection:
        doomed = select(audit_events.c.seq).where(
            (audit_events.c.position >= size) | audit_events.c.position.is_(None)
        )
        connection.execute(delete(audit_references).where(audit_references.c.event_seq.in_(doomed)))
        connection.execute(
            delete(audit_events).where(
                (audit_events.c.position >= size) | audit_events.c.position.is_(None)
            )
        )
        connection.execute(delete(audit_checkpoints).where(audit_checkpoints.c.tree_size > size))
        for level, index in connection.execute(
            select(audit_nodes.c.level, audit_nodes.c.idx)
        ).all():
            if (int(index) + 1) << int(level) > size:
                connection.execute(
                    delete(audit_nodes).where(
                        audit_nodes.c.level == level, audit_nodes.c.idx == index
                    )
                )
