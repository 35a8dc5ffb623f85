"""`gateway audit export`: the log as files another machine can verify with only Python
and `cryptography` (python -m gateway.access_log.verify DIR; format in that module).

After archiving, the database holds the log from its first live position on; an export
then starts there too, carrying the frontier (the hashes of the complete subtrees
before it, from audit_nodes) so the verifier can continue the tree from that point.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Connection, func, select

from core.fhir.dates import format_instant
from gateway.access_log.checkpoint import SignedCheckpoint
from gateway.access_log.keys import KeyHistory
from gateway.access_log.merkle import frontier_nodes
from gateway.access_log.proofs import checkpoints
from gateway.access_log.tree import StoredTree
from gateway.platform.clock import utc_now
from gateway.platform.schema import audit_events

EXPORT_FORMAT = "mh-gateway-audit-export/1"
_STREAM_ROWS = 10_000
_NO_END = 1 << 62  # beyond any position
_IN_ORDER = (
    "SELECT position, content, leaf_hash FROM audit_events "
    "WHERE position IS NOT NULL AND position < ? ORDER BY position"
)


@dataclass(frozen=True, slots=True)
class ExportSummary:
    first_position: int
    events: int
    checkpoints: int


class ExportRefused(Exception):
    """The target directory is not usable; the message names the path only."""


def first_live_position(connection: Connection) -> int:
    """Where the database's log starts: 0, or the end of what has been archived."""
    lowest = connection.execute(select(func.min(audit_events.c.position))).scalar()
    return 0 if lowest is None else int(lowest)


def frontier(connection: Connection, size: int) -> list[bytes]:
    """The hashes a verifier needs to continue the tree after `size` leaves."""
    return StoredTree(connection).hashes(frontier_nodes(size), size) if size else []


def checkpoints_from(connection: Connection, first: int, end: int | None) -> list[SignedCheckpoint]:
    """The checkpoints a log running from `first` (to `end`) can be checked against."""
    return [
        signed
        for signed in checkpoints(connection)
        if signed.checkpoint.tree_size >= first
        and (end is None or signed.checkpoint.tree_size <= end)
    ]


def sequenced_events(
    connection: Connection, end: int | None = None
) -> Generator[tuple[int, bytes, bytes]]:
    """(position, canonical bytes, recorded leaf hash), in position order, streamed.

    Straight from the driver, because verification reads every event: on PostgreSQL a
    server-side cursor in binary format (bytea arrives as bytes, with no hex to decode),
    which is several times faster than going through SQLAlchemy's row processing.
    """
    driver: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name="audit_events_in_order", binary=True)
        cursor.itersize = _STREAM_ROWS
        sql = _IN_ORDER.replace("?", "%s")
    else:
        cursor = driver.cursor()
        sql = _IN_ORDER
    try:
        cursor.execute(sql, (_NO_END if end is None else end,))
        for position, content, leaf in cursor:
            yield position, bytes(content), bytes(leaf)
    finally:
        # A reader that stops early (a failed verification) must not leave the cursor
        # (on PostgreSQL, a server-side one) open.
        cursor.close()


def export_log(
    connection: Connection, directory: Path, keys: KeyHistory, *, end: int | None = None
) -> ExportSummary:
    """Write the live log (up to position `end`) as events, checkpoints, the public keys
    (every key that signed, with the sizes each signed in the manifest) and a manifest.
    The events name patients: the files are readable by the owner only."""
    if directory.exists() and any(directory.iterdir()):
        raise ExportRefused(f"{directory} is not empty; export into a new directory")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    first = first_live_position(connection)
    count = 0
    with _private(directory / "events.ndjson") as events:
        for _, content, _ in sequenced_events(connection, end):
            events.write(content + b"\n")
            count += 1
    signed = checkpoints_from(connection, first, end)
    with _private(directory / "checkpoints.ndjson") as file:
        for checkpoint in signed:
            file.write(json.dumps(checkpoint.to_json(), separators=(",", ":")).encode() + b"\n")
    with _private(directory / "public-keys.pem") as file:
        file.write(keys.public_pem())
    manifest: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "origin": keys.origin,
        "first_position": first,
        "event_count": count,
        "exported_at": format_instant(utc_now(), fixed_width=False),
        "key_periods": keys.periods_json(),
    }
    if first:
        manifest["frontier"] = [base64.b64encode(h).decode() for h in frontier(connection, first)]
    with _private(directory / "manifest.json") as file:
        file.write(json.dumps(manifest, indent=2).encode() + b"\n")
    return ExportSummary(first, count, len(signed))


def _private(path: Path) -> BinaryIO:
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
