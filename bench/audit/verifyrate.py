"""How fast the log verifies, on one core: events per second.

- From the database: `gateway.access_log.checking.verify_database`, as `gateway audit verify`
  runs it (every event streamed in position order, its leaf hash recomputed and
  compared, the tree rebuilt, every checkpoint's root and signature checked).
- From an export (`gateway.access_log.export.export_log`, as `gateway audit export` writes
  it): `python -m gateway.access_log.verify DIR`, the standalone verifier, timed as a whole
  command (interpreter start included: well under a second).
- For scale, the same verifier over an export of synthetic 1 KB lines (the event size
  the target was set for; the gateway's events are about 3 KB): the hashing grows with
  the bytes.

Each runs in a child process pinned to one core (`taskset -c CORE`, else
os.sched_setaffinity), so "one core" is the verifier's; PostgreSQL's backend, which
reads and sends the rows, runs on the other core. The database child times
`verify_database` alone and reports its CPU time and the verifier's report; the loaded
log must verify (report.ok), which is the proof that the loader's tree is the one its
signed checkpoints name.

    python -m bench.audit.verifyrate database URL KEY_PEM ORIGIN   (the child)
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.access_log.checkpoint import Checkpoint, sign_checkpoint
from gateway.access_log.export import EXPORT_FORMAT, export_log
from gateway.access_log.keys import AuditSigningKey, KeyHistory, load_audit_signing_key
from gateway.access_log.merkle import TreeBuilder
from gateway.platform.database import Database

CORE = 1  # the core the verifier is pinned to
DIAGNOSTIC_EVENTS = 1_000_000  # events streamed again to see where the time goes


@dataclass(frozen=True, slots=True)
class VerifyRate:
    source: str
    events: int
    seconds: float  # the verification alone, in the child
    cpu_seconds: float  # the child's CPU time over the same span
    command_seconds: float  # the whole child process, interpreter start included
    ok: bool
    problem: str | None
    checkpoints: int
    bytes: int  # event bytes verified
    # The database path only: the rows streamed without verifying (see _streaming).
    diagnostics: dict[str, Any] | None = None

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _pinned(command: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(CORE), *command] if taskset else command


def _child(arguments: list[str], source: str) -> VerifyRate:
    started = time.perf_counter()
    done = subprocess.run(
        _pinned([sys.executable, "-m", "bench.audit.verifyrate", *arguments]),
        capture_output=True,
        text=True,
        check=False,
    )
    command_seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the verifier child failed:\n{done.stdout}\n{done.stderr}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return VerifyRate(source=source, command_seconds=command_seconds, **figures)


def verify_database_rate(url: str, key_path: Path, origin: str) -> VerifyRate:
    return _child(["database", url, str(key_path), origin], "database (verify_database)")


def export_and_time(url: str, key: AuditSigningKey, directory: Path) -> tuple[int, float]:
    """Write the export (as `gateway audit export` does, without its audit record)."""
    database = Database(url)
    try:
        started = time.perf_counter()
        with database.read() as connection:
            summary = export_log(connection, directory, KeyHistory.of(key, []))
        return summary.events, time.perf_counter() - started
    finally:
        database.dispose()


def verify_export_rate(directory: Path, source: str) -> VerifyRate:
    """The standalone verifier, `python -m gateway.access_log.verify DIR`, pinned to one core
    as an auditor would run it: wall and CPU time of the whole command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        _pinned([sys.executable, "-m", "gateway.access_log.verify", str(directory)]),
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    found = re.match(r"OK: (\d+) events, (\d+) checkpoints", done.stdout.strip())
    events = int(found[1]) if found else 0
    manifest = json.loads((directory / "manifest.json").read_text())
    size = (directory / "events.ndjson").stat().st_size - int(manifest["event_count"])
    return VerifyRate(
        source=source,
        events=events,
        seconds=seconds,
        cpu_seconds=cpu,
        command_seconds=seconds,
        ok=done.returncode == 0 and found is not None,
        problem=None if done.returncode == 0 else (done.stdout + done.stderr).strip()[-500:],
        checkpoints=int(found[2]) if found else 0,
        bytes=size,
    )


def synthetic_export(directory: Path, key: AuditSigningKey, events: int, size: int) -> None:
    """An export of `events` lines of `size` bytes (newline included) with checkpoints
    every 100,000 and at the end, signed with `key`: the verifier does not parse events,
    so only their length matters to its speed."""
    directory.mkdir(mode=0o700, parents=True)
    builder = TreeBuilder()
    checkpoints = []
    now = datetime.now(UTC)
    with (directory / "events.ndjson").open("wb") as file:
        for position in range(events):
            line = b'{"n":%d,"pad":"' % position
            line += b"x" * (size - len(line) - 3) + b'"}'
            builder.append_data(line)
            file.write(line + b"\n")
            if builder.size % 100_000 == 0 or builder.size == events:
                signed = sign_checkpoint(
                    Checkpoint(key.name, builder.size, builder.root(), now),
                    key.private_key,
                    key.name,
                )
                checkpoints.append(json.dumps(signed.to_json(), separators=(",", ":")))
    (directory / "checkpoints.ndjson").write_text("".join(c + "\n" for c in checkpoints))
    (directory / "public-keys.pem").write_bytes(key.public_pem())
    manifest = {
        "format": EXPORT_FORMAT,
        "origin": key.name,
        "first_position": 0,
        "event_count": events,
        "exported_at": now.isoformat().replace("+00:00", "Z"),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


# -- the child -------------------------------------------------------------------------


def _pin() -> None:
    if not shutil.which("taskset") and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {CORE})


def _database(url: str, key_path: str, origin: str) -> dict[str, Any]:
    from gateway.access_log.checking import verify_database  # noqa: PLC0415

    key = load_audit_signing_key(Path(key_path), name=origin, generate_if_missing=False)
    database = Database(url)
    try:
        with database.read() as connection:
            started, cpu = time.perf_counter(), time.process_time()
            report = verify_database(connection, KeyHistory.of(key, []))
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
            total = connection.exec_driver_sql(
                "SELECT coalesce(sum(length(content)), 0) FROM audit_events "
                "WHERE position IS NOT NULL"
            ).scalar()
        diagnostics = _streaming(database, url, min(report.events_checked, DIAGNOSTIC_EVENTS))
    finally:
        database.dispose()
    return {
        "events": report.events_checked,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "ok": report.ok and report.unattested_events == 0,
        "problem": report.problem,
        "checkpoints": report.checkpoints_checked,
        "bytes": int(total or 0),
        "diagnostics": diagnostics,
    }


def _streaming(database: Database, url: str, count: int) -> dict[str, Any]:
    """Where the database path's time goes, over the first `count` events: the rows
    streamed alone as verify_database streams them (gateway.access_log.export.
    sequenced_events), and the same query through a plain psycopg server-side cursor in
    binary format (not the gateway's code: the driver's own ceiling)."""
    import psycopg  # noqa: PLC0415

    from gateway.access_log.export import sequenced_events  # noqa: PLC0415

    found: dict[str, Any] = {"events": count}
    if count == 0 or not url.startswith("postgresql"):
        return found
    with database.read() as connection:
        started, cpu = time.perf_counter(), time.process_time()
        stream = sequenced_events(connection)
        for number, _ in enumerate(stream, start=1):
            if number == count:
                break
        stream.close()
        found["sequenced_events_per_second"] = count / (time.perf_counter() - started)
        found["sequenced_events_cpu_share"] = (time.process_time() - cpu) / (
            time.perf_counter() - started
        )
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as raw:
        started, cpu = time.perf_counter(), time.process_time()
        with raw.cursor(name="diagnostic", binary=True) as cursor:
            cursor.execute(
                "SELECT position, content, leaf_hash FROM audit_events "
                "WHERE position IS NOT NULL ORDER BY position LIMIT %s",
                [count],
            )
            while cursor.fetchmany(10_000):
                pass
        elapsed = time.perf_counter() - started
        found["binary_cursor_per_second"] = count / elapsed
        found["binary_cursor_cpu_share"] = (time.process_time() - cpu) / elapsed
    return found


def main(argv: list[str]) -> int:
    _pin()
    if argv[0] == "database":
        figures = _database(*argv[1:4])
    else:
        raise SystemExit(__doc__)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
