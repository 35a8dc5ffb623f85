"""A file witness: an append-only file of checkpoints (one `SignedCheckpoint.to_json()`
per line, the format of an export's checkpoints.ndjson), on a volume other than the
database's. Each line is appended with O_APPEND and synced; nothing is ever rewritten."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gateway.access_log.checkpoint import SignedCheckpoint

_TAIL_BYTES = 64 * 1024  # far more than one checkpoint line


class WitnessFileError(ValueError):
    """The witness file cannot be read as checkpoints (its last line is not one)."""


def newest_in_file(path: Path) -> SignedCheckpoint | None:
    """The last checkpoint appended to `path`, or None if it is empty or absent."""
    try:
        with path.open("rb") as file:
            end = file.seek(0, os.SEEK_END)
            file.seek(max(0, end - _TAIL_BYTES))
            tail = file.read()
    except FileNotFoundError:
        return None
    lines = [line for line in tail.split(b"\n") if line.strip()]
    if not lines:
        return None
    try:
        return SignedCheckpoint.from_json(json.loads(lines[-1]))
    except ValueError as error:
        raise WitnessFileError(f"{path}: the last line is not a signed checkpoint") from error


def append_to_file(path: Path, signed: SignedCheckpoint) -> None:
    line = json.dumps(signed.to_json(), separators=(",", ":")).encode() + b"\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
