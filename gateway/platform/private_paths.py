"""Files and directories only the service's user may open: the SQLite store (and the
WAL, shared-memory and journal files SQLite puts beside it), key files, the process id.

Modes are set explicitly, whatever the umask. Directories are made 0700 when the gateway
creates them; one that already exists is the operator's, and keeps its mode.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIRECTORY_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# SQLite creates these beside the database, with the database file's own mode.
SQLITE_COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")


def private_directory(path: Path) -> None:
    """Create `path` and its missing parents, each 0700."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=PRIVATE_DIRECTORY_MODE)
        except FileExistsError:
            continue  # another process made it first, and set its mode
        os.chmod(directory, PRIVATE_DIRECTORY_MODE)


def private_sqlite_store(database: Path) -> None:
    """Make the store file 0600 before SQLite opens it, so that the WAL and shared-memory
    files SQLite creates later inherit that mode; tighten any left by an older start.

    An existing store is never opened here, only chmod-ed by name: closing any descriptor
    of a file drops every POSIX lock this process holds on it, so opening and closing
    the store beside a live connection would release that connection's SQLite locks
    (sqlite.org, "How To Corrupt An SQLite Database File", 2.2)."""
    private_directory(database.parent)
    try:
        descriptor = os.open(database, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        os.chmod(database, PRIVATE_FILE_MODE)
    else:
        try:
            os.fchmod(descriptor, PRIVATE_FILE_MODE)
        finally:
            os.close(descriptor)
    for suffix in SQLITE_COMPANION_SUFFIXES:
        companion = database.with_name(database.name + suffix)
        try:
            os.chmod(companion, PRIVATE_FILE_MODE)
        except FileNotFoundError:
            continue


def write_private_text(path: Path, text: str) -> None:
    """Write `path` (created 0600, in a private directory if it makes one)."""
    private_directory(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(text)
