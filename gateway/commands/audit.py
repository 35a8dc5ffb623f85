"""`gateway audit verify | export | checkpoint`: the operator's side of the access log.

Part of the CLI layer (imported only by gateway.commands.cli); each command builds the runtime as
`gateway serve` does, so it checks the same configuration and schema first.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

from core.codes.audit import Subtype
from gateway.access_log.archive import ArchiveRefused, archive_before
from gateway.access_log.checking import sequenced_count, verify_database
from gateway.access_log.derivation import waiting
from gateway.access_log.export import ExportRefused, export_log
from gateway.access_log.gateway_events import record_gateway_event
from gateway.access_log.witness_check import WitnessReadError, check_witnessed, held_by
from gateway.configuration.audit_log import FileWitness, Witness
from gateway.platform.runtime import Runtime, build_runtime
from gateway.platform.settings import Settings


def audit_command(
    settings: Settings,
    command: str,
    directory: Path | None,
    *,
    before: datetime | None = None,
    witnesses: tuple[str, ...] = (),
) -> int:
    runtime = build_runtime(settings)
    try:
        if command == "verify":
            return _verify(runtime, _witnesses(runtime, witnesses))
        if command == "checkpoint":
            return _checkpoint(runtime)
        if directory is None:
            raise ValueError("export and archive need a directory")
        if command == "export":
            return _export(runtime, directory)
        if before is None:
            raise ValueError("archive needs --before")
        return _archive(runtime, directory, before)
    finally:
        runtime.database.dispose()


def _witnesses(runtime: Runtime, asked: tuple[str, ...]) -> list[Witness]:
    """Each --witness: a witness named in audit-log.yaml, 'all' of them, or a file."""
    configured = runtime.config.audit_log
    chosen: list[Witness] = []
    for item in asked:
        if item == "all":
            chosen.extend(configured.witnesses)
        else:
            chosen.append(configured.witness(item) or FileWitness(item, Path(item)))
    return chosen


def _check_witnesses(runtime: Runtime, witnesses: list[Witness]) -> bool:
    origin = runtime.audit_keys.origin
    intact = True
    for witness in witnesses:
        try:
            held = held_by(witness, origin)
        except WitnessReadError as error:
            print(f"witness {error}: could not be read", file=sys.stderr)
            intact = False
            continue
        with runtime.database.read() as connection:
            verdict = check_witnessed(connection, runtime.audit_keys, witness.name, held)
        if verdict.ok:
            print(
                f"witness {witness.name}: the log extends its checkpoint "
                f"of size {verdict.held_size}"
            )
        else:
            print(f"witness {witness.name} FAILED: {verdict.problem}", file=sys.stderr)
            intact = False
    return intact


def _verify(runtime: Runtime, witnesses: list[Witness]) -> int:
    with runtime.database.read() as connection:
        total = sequenced_count(connection)
        progress = _ProgressBar(total) if sys.stderr.isatty() else None
        report = verify_database(
            connection, runtime.audit_keys, progress=progress.update if progress else None
        )
        if progress:
            progress.finish()
        backlog = waiting(connection)
    # Not a failure: events wait a moment for the sequencer, more while none runs.
    print(
        f"{backlog.count} events waiting to be sequenced"
        + (
            f", the oldest recorded {backlog.age_seconds(runtime.clock()):.0f} s ago"
            if backlog.count
            else ""
        )
    )
    if not report.ok:
        where = (
            f"at position {report.first_bad_position}"
            if report.first_bad_position is not None
            else "at"
        )
        print(f"audit log FAILED verification {where}: {report.problem}", file=sys.stderr)
        return 1
    root = report.root_hash.hex() if report.root_hash else "none"
    print(
        f"audit log verified: {report.events_checked} events, "
        f"{report.checkpoints_checked} signed checkpoints, tree size {report.tree_size}, "
        f"root {root}; {report.unattested_events} events not yet in a checkpoint; "
        "every searched column and reference row matches its event's bytes"
    )
    return 0 if _check_witnesses(runtime, witnesses) else 1


def _export(runtime: Runtime, directory: Path) -> int:
    try:
        with runtime.database.write() as connection:
            summary = export_log(connection, directory, runtime.audit_keys)
            # The export holds every patient's access history: it is itself audited.
            record_gateway_event(
                connection,
                runtime,
                Subtype.AUDIT_EXPORT,
                f"Audit log exported: {summary.events} events, {summary.checkpoints} checkpoints.",
            )
    except ExportRefused as refused:
        print(f"gateway: {refused}", file=sys.stderr)
        return 2
    print(
        f"exported {summary.events} events and {summary.checkpoints} checkpoints to "
        f"{directory}; verify anywhere with: python -m gateway.access_log.verify {directory}"
    )
    return 0


def _archive(runtime: Runtime, directory: Path, before: datetime) -> int:
    try:
        with runtime.database.write() as connection:
            outcome = archive_before(connection, before, directory, runtime.audit_keys)
            if outcome.export is None:
                print("nothing to archive: no attested events before that date")
                return 0
            record_gateway_event(
                connection,
                runtime,
                Subtype.AUDIT_ARCHIVE,
                f"Audit log archived: positions {outcome.first} to {outcome.until - 1} "
                f"exported (to {outcome.exported_until - 1}), verified and removed.",
            )
    except (ExportRefused, ArchiveRefused) as refused:
        print(f"gateway: {refused}", file=sys.stderr)
        return 2
    print(
        f"archived positions {outcome.first}..{outcome.until - 1} to {directory} "
        f"(the export runs to {outcome.exported_until - 1}, the first checkpoint after); "
        "the database's log now starts at position "
        f"{outcome.until}. Keep the export: it is the only copy of those events."
    )
    return 0


def _checkpoint(runtime: Runtime) -> int:
    sequenced = 0
    with runtime.database.write() as connection:
        while (
            outcome := runtime.sequencer.run(connection, checkpoint_now=True, wait=True)
        ).sequenced:
            sequenced += outcome.sequenced
        record_gateway_event(
            connection, runtime, Subtype.CHECKPOINT, "Checkpoint requested by an operator."
        )
    with runtime.database.write() as connection:
        # Sign over the request's own record too, so the log's newest entry is attested.
        outcome = runtime.sequencer.run(connection, checkpoint_now=True, wait=True)
    print(f"sequenced {sequenced + outcome.sequenced} events; tree size {outcome.tree_size}")
    return 0


class _ProgressBar:
    """A one-line progress bar on stderr (only when it is a terminal)."""

    def __init__(self, total: int) -> None:
        self._total = max(total, 1)

    def update(self, done: int) -> None:
        share = min(done / self._total, 1.0)
        filled = int(share * 40)
        bar = "#" * filled + "-" * (40 - filled)
        sys.stderr.write(f"\rverifying [{bar}] {done:,}/{self._total:,} events ({share:.0%})")
        sys.stderr.flush()

    def finish(self) -> None:
        sys.stderr.write("\n")
