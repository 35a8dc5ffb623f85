"""Verify the audit log: every event, against every signed checkpoint, in one pass.

    python -m gateway.access_log.verify EXPORT_DIR [--public-keys TRUSTED.pem]

needs only the standard library and `cryptography`. `verify_log` is the reusable core;
`gateway audit verify` runs it over the database.

Export directory format ("mh-gateway-audit-export/1"):

- `events.ndjson`: line i is exactly the canonical bytes of the event at position
  `first_position + i` (compact JSON, never a raw newline); every line, the last
  included, ends with "\\n". Leaf i of the tree is SHA-256(0x00 || those bytes).
- `checkpoints.ndjson`: one `SignedCheckpoint.to_json()` object per line, by increasing
  tree size. The log signs with its origin as the key name.
- `public-keys.pem`: one or more Ed25519 public keys (PEM SubjectPublicKeyInfo).
- `manifest.json`: {"format": "mh-gateway-audit-export/1", "origin": str,
  "first_position": int, "event_count": int, "exported_at": str}, optionally
  "key_periods": [{"key_id": hex, "after_tree_size": int, "until_tree_size": int|null}]
  (which checkpoint sizes each key signed, after a key rotation) and, when
  first_position > 0, "frontier": the base64 hashes of `merkle.frontier_nodes(
  first_position)`, left to right: the archived prefix in O(log n) hashes.

What a pass proves, and what it cannot: every event up to the latest checkpoint is the
event the log signed. The frontier of an archived prefix is only as good as the first
checkpoint after it, which checks it. Checkpoints are only as good as the keys: pass
keys obtained independently (`--public-keys`), since whoever could rewrite the export
could also rewrite its key file. Events after the latest checkpoint are counted, not
attested; removing them, or the latest checkpoints, shows only as a count that differs
from the manifest, or against a checkpoint kept elsewhere.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import count, repeat
from pathlib import Path
from typing import Any, TypeGuard

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.access_log.checkpoint import (
    CheckpointError,
    KeyPeriod,
    SignedCheckpoint,
    check_chain,
    load_public_keys_pem,
    public_key_map,
    verify_signature,
)
from gateway.access_log.merkle import TreeBuilder

LogEntry = tuple[int, bytes, bytes | None]

EXPORT_FORMAT = "mh-gateway-audit-export/1"
PROGRESS_INTERVAL = 1 << 16
_READ_BUFFER = 1 << 20  # large reads: line splitting is a measurable part of a pass


@dataclass(frozen=True)
class Report:
    """The outcome of a pass. `tree_size` and `root_hash` are those of the latest
    checkpoint verified (0 and None if none was); `problem` names positions and sizes,
    never event content, as events hold patient data."""

    ok: bool
    events_checked: int
    checkpoints_checked: int
    tree_size: int
    root_hash: bytes | None
    first_bad_position: int | None
    problem: str | None
    unattested_events: int


class _Attestations:
    """The checkpoints in order, and how far the events are proven to match them."""

    def __init__(
        self,
        checkpoints: Sequence[SignedCheckpoint],
        public_keys: Mapping[bytes, Ed25519PublicKey],
        origin: str,
        first_position: int,
        key_periods: Mapping[bytes, KeyPeriod],
    ) -> None:
        self._pending = list(checkpoints)
        self._chain_break = check_chain(self._pending, starts_mid_log=first_position > 0)
        self._key_periods = key_periods
        self._next = 0
        self._public_keys = public_keys
        self._origin = origin
        self._first_position = first_position
        self.latest: SignedCheckpoint | None = None
        self.checked = 0
        self.verified_size = first_position  # events before this are proven

    @property
    def next_size(self) -> int | None:
        if self._next < len(self._pending):
            return self._pending[self._next].checkpoint.tree_size
        return None

    def check(self, builder: TreeBuilder) -> tuple[int, str] | None:
        """Check every pending checkpoint no larger than the tree built so far; the
        first problem as (first bad position, problem), or None."""
        size = self.next_size
        while size is not None and size <= builder.size:
            problem = self._check_one(self._pending[self._next], builder)
            if problem is not None:
                return problem
            self._next += 1
            size = self.next_size
        return None

    def _check_one(self, signed: SignedCheckpoint, builder: TreeBuilder) -> tuple[int, str] | None:
        checkpoint = signed.checkpoint
        size = checkpoint.tree_size
        start = self.verified_size
        previous = self.latest.checkpoint if self.latest is not None else None
        if previous is not None and size <= previous.tree_size:
            return start, f"checkpoint of size {size} follows one of size {previous.tree_size}"
        if not verify_signature(signed, self._public_keys):
            return start, f"checkpoint of size {size} is not validly signed by a known key"
        period = self._key_periods.get(signed.key_id)
        if period is not None and not period.covers(size):
            return start, (
                f"checkpoint of size {size} is signed by key {signed.key_id.hex()}, "
                "which was not the signing key at that size"
            )
        chain_break = self._chain_break
        if chain_break is not None and chain_break.index == self._next:
            return chain_break.position, chain_break.problem
        if checkpoint.origin != self._origin:
            return start, f"checkpoint of size {size} is for another log (origin differs)"
        if size == builder.size and checkpoint.root_hash != builder.root():
            if size == start:  # nothing streamed yet: the archived prefix's frontier
                return start, f"the tree before position {size} does not match its checkpoint"
            return start, (
                f"the events in positions {start}..{size - 1} "
                f"do not match checkpoint of size {size}"
            )
        if previous is not None and checkpoint.timestamp < previous.timestamp:
            return size, (
                f"checkpoint of size {size} is dated before the checkpoint of size "
                f"{previous.tree_size}"
            )
        # A checkpoint inside an archived prefix is checked, but proves no event here.
        self.verified_size = max(size, self._first_position)
        self.latest = signed
        self.checked += 1
        return None


def verify_log(
    entries: Iterable[LogEntry],
    checkpoints: Sequence[SignedCheckpoint],
    public_keys: Mapping[bytes, Ed25519PublicKey],
    *,
    origin: str,
    first_position: int = 0,
    frontier: Sequence[bytes] = (),
    progress: Callable[[int], None] | None = None,
    key_periods: Mapping[bytes, KeyPeriod] | None = None,
) -> Report:
    """Stream once over `entries` (by position) and check them against `checkpoints`
    (by increasing size), in O(log n) memory; stop at the first problem.

    Checks: positions run on from `first_position` without gaps or repeats; each event
    hashes to the leaf hash recorded with it, when one is; at each checkpoint's size the
    root of the events so far is the checkpoint's root, its signature verifies with a
    key in `public_keys` (by key id, see `checkpoint.public_key_map`), its origin is
    `origin`, sizes increase and times never go back; no checkpoint is larger than the
    log; each checkpoint links to the one before it (`checkpoint.check_chain`); a key
    with a period in `key_periods` (by key id) signs only the sizes in it (rotation).
    `first_bad_position` is the first position the pass could not prove: for a
    checkpoint that fails, the size of the last one that passed.

    An export starting after an archived prefix (`first_position > 0`) needs the
    prefix's `frontier` (the hashes of `merkle.frontier_nodes(first_position)`).
    `progress(events_checked)` is called every PROGRESS_INTERVAL events.
    """
    if first_position < 0:
        raise ValueError("first_position must not be negative")
    builder = TreeBuilder.from_frontier(first_position, frontier)
    attestations = _Attestations(
        checkpoints, public_keys, origin, first_position, key_periods or {}
    )

    expected = first_position  # the next position, and how far the events are checked

    def report(position: int | None = None, problem: str | None = None) -> Report:
        latest = attestations.latest.checkpoint if attestations.latest is not None else None
        return Report(
            ok=problem is None,
            events_checked=expected - first_position,
            checkpoints_checked=attestations.checked,
            tree_size=latest.tree_size if latest is not None else 0,
            root_hash=latest.root_hash if latest is not None else None,
            first_bad_position=position,
            problem=problem,
            unattested_events=expected - attestations.verified_size,
        )

    failure = attestations.check(builder)  # checkpoints inside an archived prefix
    if failure is not None:
        return report(*failure)

    append_data = builder.append_data
    next_progress = first_position + PROGRESS_INTERVAL if progress is not None else -1
    stop = _next_stop(attestations.next_size, next_progress)
    for position, event, recorded in entries:
        if position != expected:
            if position > expected:
                return report(expected, f"events missing from position {expected}")
            return report(position, f"position {position} repeats or is out of order")
        leaf = append_data(event)
        if recorded is not None and recorded != leaf:
            return report(position, f"the event at position {position} does not match its hash")
        expected += 1
        if expected == stop:  # one comparison per event covers checkpoints and progress
            if expected == next_progress and progress is not None:
                progress(expected - first_position)
                next_progress += PROGRESS_INTERVAL
            failure = attestations.check(builder)
            if failure is not None:
                return report(*failure)
            stop = _next_stop(attestations.next_size, next_progress)

    missing = attestations.next_size
    if missing is not None:
        return report(
            expected, f"events missing from position {expected} (a checkpoint has size {missing})"
        )
    return report()


def _next_stop(checkpoint_size: int | None, next_progress: int) -> int:
    candidates = [
        size for size in (checkpoint_size, next_progress) if size is not None and size >= 0
    ]
    return min(candidates, default=-1)


class ExportError(ValueError):
    """An export directory that cannot be read as one."""


@dataclass(frozen=True)
class Export:
    directory: Path
    origin: str
    first_position: int
    event_count: int
    frontier: list[bytes]
    checkpoints: list[SignedCheckpoint]
    public_keys: list[Ed25519PublicKey]
    key_periods: dict[bytes, KeyPeriod]

    def events(self, file: Iterable[bytes]) -> Iterator[LogEntry]:
        """The entries of an open `events.ndjson` (binary), without copying in Python."""
        lines = map(bytes.removesuffix, file, repeat(b"\n"))
        return zip(count(self.first_position), lines, repeat(None))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except ValueError as error:
        raise ExportError(f"{path.name} is not valid JSON") from error


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _decode_frontier(value: object) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ExportError("the manifest's frontier must be a list of base64 hashes")
    try:
        return [base64.b64decode(item, validate=True) for item in value]
    except binascii.Error as error:
        raise ExportError("the manifest's frontier must be a list of base64 hashes") from error


def _decode_key_periods(value: object) -> dict[bytes, KeyPeriod]:
    problem = ExportError("the manifest's key_periods must list key_id and tree sizes")
    if not isinstance(value, list):
        raise problem
    periods = {}
    for item in value:
        if not isinstance(item, dict) or set(item) != {
            "key_id",
            "after_tree_size",
            "until_tree_size",
        }:
            raise problem
        identity, after, until = item["key_id"], item["after_tree_size"], item["until_tree_size"]
        if not isinstance(identity, str) or len(identity) != 8 or not _is_count(after):
            raise problem
        if until is not None and not _is_count(until):
            raise problem
        try:
            periods[bytes.fromhex(identity)] = KeyPeriod(after, until)
        except ValueError as error:
            raise problem from error
    return periods


def load_export(directory: Path, public_keys_path: Path | None = None) -> Export:
    """Read everything but the events; raises ExportError (or OSError) if malformed."""
    manifest = _read_json(directory / "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise ExportError(f"manifest.json is not a {EXPORT_FORMAT} manifest")
    origin = manifest.get("origin")
    first_position = manifest.get("first_position")
    event_count = manifest.get("event_count")
    if not isinstance(origin, str) or not isinstance(manifest.get("exported_at"), str):
        raise ExportError("manifest.json needs an origin and exported_at")
    if not _is_count(first_position) or not _is_count(event_count):
        raise ExportError("manifest.json needs first_position and event_count")
    frontier = _decode_frontier(manifest.get("frontier", []))
    try:
        TreeBuilder.from_frontier(first_position, frontier)
    except ValueError as error:
        raise ExportError(f"manifest.json: {error}") from error
    checkpoints = []
    with (directory / "checkpoints.ndjson").open("rb") as file:
        for number, line in enumerate(file, start=1):
            try:
                checkpoints.append(SignedCheckpoint.from_json(json.loads(line)))
            except ValueError as error:
                raise ExportError(f"checkpoints.ndjson line {number}: {error}") from error
    keys_path = public_keys_path or directory / "public-keys.pem"
    try:
        public_keys = load_public_keys_pem(keys_path.read_bytes())
    except CheckpointError as error:
        raise ExportError(f"{keys_path.name}: {error}") from error
    return Export(
        directory=directory,
        origin=origin,
        first_position=first_position,
        event_count=event_count,
        frontier=frontier,
        checkpoints=checkpoints,
        public_keys=public_keys,
        key_periods=_decode_key_periods(manifest.get("key_periods", [])),
    )


def verify_export(export: Export, progress: Callable[[int], None] | None = None) -> Report:
    """Verify the export's events; also fails when their count is not the manifest's."""
    path = export.directory / "events.ndjson"
    with path.open("rb", buffering=_READ_BUFFER) as file:
        if file.seek(0, os.SEEK_END) > 0:
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                raise ExportError("events.ndjson does not end with a newline")
            file.seek(0)
        report = verify_log(
            export.events(file),
            export.checkpoints,
            public_key_map(export.origin, export.public_keys),
            origin=export.origin,
            first_position=export.first_position,
            frontier=export.frontier,
            progress=progress,
            key_periods=export.key_periods,
        )
    read = report.events_checked
    if report.ok and read != export.event_count:
        position = export.first_position + min(read, export.event_count)
        problem = (
            f"events missing from position {position} (the manifest lists {export.event_count})"
            if read < export.event_count
            else f"position {position} and after are not in the manifest's event count"
        )
        return replace(report, ok=False, first_bad_position=position, problem=problem)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.access_log.verify",
        description="Verify an audit log export against its signed checkpoints.",
    )
    parser.add_argument("directory", type=Path, help="the export directory")
    parser.add_argument(
        "--public-keys",
        type=Path,
        help="trusted Ed25519 public keys (PEM); default: the export's public-keys.pem",
    )
    args = parser.parse_args(argv)

    def show_progress(events: int) -> None:
        print(f"\r{events} events verified", end="", file=sys.stderr, flush=True)

    interactive = sys.stderr.isatty()
    try:
        export = load_export(args.directory, args.public_keys)
        report = verify_export(export, show_progress if interactive else None)
    except (OSError, ValueError) as error:
        reason: str | None = f"cannot verify {args.directory}: {error}"
    else:
        reason = None
    if interactive:  # clear the progress line
        print("\r\x1b[K", end="", file=sys.stderr, flush=True)
    if reason is not None:
        print(reason, file=sys.stderr)
        return 2
    if not report.ok:
        print(f"FAILED at position {report.first_bad_position}: {report.problem}")
        return 1
    root = report.root_hash.hex() if report.root_hash is not None else "none"
    print(
        f"OK: {report.events_checked} events, {report.checkpoints_checked} checkpoints, "
        f"tree size {report.tree_size}, root {root}, "
        f"{report.unattested_events} events after the latest checkpoint"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
