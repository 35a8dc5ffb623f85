"""`gateway backup DIR`: a consistent copy of the embedded SQLite store, taken while the
server serves, with a manifest beside it.

The copy is made by SQLite's online backup API (`sqlite3.Connection.backup`) in one step:
one read transaction, so the copy is the store as it stood at one moment, every change
and its audit event and outbox row together or not at all. The store runs in WAL mode
(gateway.platform.database), where a reader never blocks a writer: the server goes on
answering while the copy is made, and its writes land after the snapshot. The copy is
written under a temporary name, checked (`PRAGMA integrity_check`), switched to a
rollback journal so that it is one self-contained file, and only then given its name:

    DIR/gateway-<UTC time>.db      the store, 0600
    DIR/gateway-<UTC time>.json    source, time, schema revision, size, sha256,
                                   and each table's row count (no patient data)

A PostgreSQL store is refused (exit 2) with the command to run instead: pg_dump, and in
production continuous WAL archiving for point-in-time recovery (docs/operations.md,
"Backups and restore"). The gateway does not wrap pg_dump: the hosting team's tooling
(managed PostgreSQL snapshots, pgBackRest, barman) does it better than a copy made here.

Part of the CLI layer (imported only by gateway.commands.cli); it never builds the
runtime, so it needs neither the configuration nor the keys, only the database URL, and
never creates a store that is not there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from core.codes.audit import Subtype
from gateway.access_log.gateway_events import record_gateway_event
from gateway.platform.clock import utc_now
from gateway.platform.database import SQLITE_BUSY_TIMEOUT_MS
from gateway.platform.migrate import HEAD
from gateway.platform.private_paths import (
    PRIVATE_FILE_MODE,
    private_directory,
    write_private_text,
)
from gateway.platform.runtime import build_runtime
from gateway.platform.settings import Settings

MANIFEST_FORMAT = 1


class BackupRefused(Exception):
    """What an operator is told, with exit status 2, when no backup is made."""


@dataclass(frozen=True, slots=True)
class Backup:
    store: Path
    manifest: Path
    revision: str | None
    size: int
    sha256: str


def backup_command(settings: Settings, directory: Path) -> int:
    try:
        made = backup(settings.database_url, directory, utc_now())
    except BackupRefused as refused:
        print(f"gateway: {refused}", file=sys.stderr)
        return 2
    # A backup holds every patient's records: it is itself in the access log (in the
    # store, after the copy: the copy is of the moment before it was recorded).
    runtime = build_runtime(settings)
    try:
        with runtime.database.write() as connection:
            record_gateway_event(
                connection,
                runtime,
                Subtype.STORE_BACKUP,
                f"Store backed up: {made.size} bytes, sha256 {made.sha256}.",
            )
    finally:
        runtime.database.dispose()
    print(
        f"backed up the store to {made.store} ({made.size:,} bytes, schema revision "
        f"{made.revision or 'none'}, sha256 {made.sha256}); manifest {made.manifest}"
    )
    return 0


def backup(database_url: str, directory: Path, now: datetime) -> Backup:
    url = make_url(database_url)
    dialect = url.get_backend_name()
    if dialect == "postgresql":
        raise BackupRefused(
            "`gateway backup` copies the embedded SQLite store only. Back up PostgreSQL "
            "with pg_dump, e.g. pg_dump --format=custom --file DIR/gateway-<time>.dump "
            '"$GATEWAY_DATABASE_URL", and in production with WAL archiving for '
            'point-in-time recovery: see docs/operations.md, "Backups and restore"'
        )
    if dialect != "sqlite":
        raise BackupRefused("GATEWAY_DATABASE_URL must be a sqlite:// or postgresql:// URL")
    source = url.database
    if not source or source == ":memory:" or source.startswith("file:"):
        raise BackupRefused("GATEWAY_DATABASE_URL names no SQLite store file to back up")
    source_path = Path(source)
    if not source_path.is_file():
        raise BackupRefused(f"there is no SQLite store at {source_path}")
    if directory.exists() and not directory.is_dir():
        raise BackupRefused(f"{directory} is not a directory")
    private_directory(directory)
    stem = _free_stem(directory, f"gateway-{now:%Y%m%dT%H%M%SZ}")
    store = directory / f"{stem}.db"
    partial = directory / f".{stem}.db.partial"
    try:
        _copy(source_path, partial)
        revision, rows = _describe(partial)
        partial.rename(store)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    size, digest = _sha256(store)
    manifest = directory / f"{stem}.json"
    described: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "database": "sqlite",
        "source": str(source_path.resolve()),
        "taken_at": now.isoformat(timespec="seconds"),
        "file": store.name,
        "bytes": size,
        "sha256": digest,
        "schema_revision": revision,
        "gateway_schema_head": HEAD,
        "sqlite_version": sqlite3.sqlite_version,
        "rows": rows,
    }
    write_private_text(manifest, json.dumps(described, indent=2, sort_keys=True) + "\n")
    return Backup(store, manifest, revision, size, digest)


def _free_stem(directory: Path, stem: str) -> str:
    """`stem`, or stem-2, stem-3, ... when a backup of the same second is there."""
    candidate, number = stem, 1
    while (directory / f"{candidate}.db").exists() or (directory / f"{candidate}.json").exists():
        number += 1
        candidate = f"{stem}-{number}"
    return candidate


def _copy(source: Path, target: Path) -> None:
    # Created 0600 before SQLite opens it, so the copy is as private as the store.
    descriptor = os.open(target, os.O_RDWR | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    os.close(descriptor)
    # mode=rw: never create a store that is not there. The whole copy in one step
    # (pages=-1) is one read transaction: a consistent snapshot, whatever is written
    # meanwhile (a stepwise copy restarts whenever another connection writes).
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True)
    try:
        reader.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer, pages=-1)
            # One self-contained file: no -wal or -shm beside the copy.
            writer.execute("PRAGMA journal_mode=DELETE")
            checked = writer.execute("PRAGMA integrity_check").fetchone()
            if checked is None or checked[0] != "ok":
                raise BackupRefused("the copy failed SQLite's integrity check; none was kept")
        finally:
            writer.close()
    except sqlite3.Error as error:
        # SQLite's message names no data, only what failed (e.g. "database is locked").
        raise BackupRefused(f"the store could not be copied: {error}") from None
    finally:
        reader.close()


def _describe(store: Path) -> tuple[str | None, dict[str, int]]:
    """The copy's schema revision and each table's row count."""
    connection = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        # The names are the copy's own tables (sqlite_master), quoted as identifiers.
        rows = {
            name: int(connection.execute(f"SELECT count(*) FROM {_quoted(name)}").fetchone()[0])  # noqa: S608
            for name in tables
        }
        revision = None
        if "alembic_version" in tables:
            found = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = str(found[0]) if found else None
        return revision, rows
    finally:
        connection.close()


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
