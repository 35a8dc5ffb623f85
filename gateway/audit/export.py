"""`gateway audit export`: the log as files another machine can verify with only Python
and `cryptography` (python -m gateway.audit.verify DIR; format in that module)."""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import Connection, select

from gateway.audit.keys import AuditSigningKey
from gateway.audit.proofs import checkpoints
from gateway.store.schema import audit_events

EXPORT_FORMAT = "mh-gateway-audit-export/1"
_STREAM_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class ExportSummary:
    events: int
    checkpoints: int


class ExportRefused(Exception):
    """The target directory is not usable; the message names the path only."""


def sequenced_events(connection: Connection) -> Generator[tuple[int, bytes, bytes]]:
    """(position, canonical bytes, recorded leaf hash), in position order, streamed."""
    query = (
        select(audit_events.c.position, audit_events.c.content, audit_events.c.leaf_hash)
        .where(audit_events.c.position.is_not(None))
        .order_by(audit_events.c.position)
        .execution_options(yield_per=_STREAM_ROWS)
    )
    result = connection.execute(query)
    try:
        for position, content, leaf in result:
            yield int(position), bytes(content), bytes(leaf)
    finally:
        # A reader that stops early (a failed verification) must not leave PostgreSQL's
        # server-side cursor open.
        result.close()


def export_log(connection: Connection, directory: Path, key: AuditSigningKey) -> ExportSummary:
    """Write events, checkpoints, the public key and a manifest. The events name
    patients, so the directory and its files are readable by the owner only."""
    if directory.exists() and any(directory.iterdir()):
        raise ExportRefused(f"{directory} is not empty; export into a new directory")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    count = 0
    with _private(directory / "events.ndjson") as events:
        for _, content, _ in sequenced_events(connection):
            events.write(content + b"\n")
            count += 1
    signed = list(checkpoints(connection))
    with _private(directory / "checkpoints.ndjson") as file:
        for checkpoint in signed:
            file.write(json.dumps(checkpoint.to_json(), separators=(",", ":")).encode() + b"\n")
    with _private(directory / "public-keys.pem") as file:
        file.write(key.public_pem())
    manifest = {
        "format": EXPORT_FORMAT,
        "origin": key.name,
        "first_position": 0,
        "event_count": count,
        "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    with _private(directory / "manifest.json") as file:
        file.write(json.dumps(manifest, indent=2).encode() + b"\n")
    return ExportSummary(count, len(signed))


def _private(path: Path) -> BinaryIO:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
