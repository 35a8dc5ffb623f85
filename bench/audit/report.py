"""The access-log benchmark's results: Markdown for people, JSON with every raw figure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.audit.append import AppendCost
from bench.audit.check import TableCheck
from bench.audit.load import LoadStats
from bench.audit.proofs import PARTS, ProofTiming
from bench.audit.search import SearchLatency
from bench.audit.verifyrate import VerifyRate
from bench.measure import Throughput
from bench.report import BenchmarkReport, code_blocks, markdown_table

VERIFY_TARGET = 300_000  # events/s on one core
PROOF_TARGET_MS = 1.0
SEARCH_TARGET_MS = 50.0


@dataclass
class StoreResult:
    """One grown store: how it was loaded, and what was measured on it."""

    database: str
    events: int
    load: LoadStats
    searches: list[SearchLatency] = field(default_factory=list)
    extra_searches: list[SearchLatency] = field(default_factory=list)  # not targets
    search_plans: dict[str, list[str]] = field(default_factory=dict)
    verify: list[VerifyRate] = field(default_factory=list)
    export_seconds: float | None = None
    exported: int = 0  # events the export holds (the search server's own included)
    proofs: list[ProofTiming] = field(default_factory=list)
    proof_plans: dict[str, list[str]] = field(default_factory=dict)
    # The access log after the search server stopped: its own events sequenced on top.
    after_server: dict[str, int] = field(default_factory=dict)


@dataclass
class AuditReport(BenchmarkReport):
    append: list[AppendCost] = field(default_factory=list)
    checks: list[TableCheck] = field(default_factory=list)
    stores: list[StoreResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [
            *self.header("Access-log benchmark"),
            "",
            "## Targets",
            "",
            *self.targets(),
            "",
            "## 1. Append cost per request",
            "",
            "Fresh stores, one server process, 32 connections (wrk), every request with "
            "AZZ's token: the code before the access log without it, this code with it, "
            "same run, same load. Reads are GET by id of the ServiceRequests just created.",
            "",
            append_table(self.append) if self.append else "Not measured (--no-append).",
            "",
            *_append_notes(self.append),
            "## 2. `audit verify` rate (one core)",
            "",
            verify_table(self.stores),
            "",
            *verify_notes(self.stores),
            "## 3. Proof latency (in process)",
            "",
            proof_table(self.stores),
            "",
            proof_parts_table(self.stores),
            "",
            "## 4. AuditEvent search over HTTP (IG lead's token, _count 20)",
            "",
            search_table(self.stores),
            "",
            "Other IG searches (not among the targets; a few requests each):",
            "",
            search_table(self.stores, extra=True),
            "",
            "## Loading",
            "",
            load_table(self.stores),
            "",
            "## Checks",
            "",
            *check_lines(self.checks, self.stores),
            "",
        ]
        if self.notes:
            lines += ["## Notes", "", *(f"- {note}" for note in self.notes), ""]
        for store in self.stores:
            for title, plans in (
                ("AuditEvent search plans", store.search_plans),
                ("Proof query plans", store.proof_plans),
            ):
                if plans:
                    lines += ["", f"## {title}, {store.database} at {store.events:,} events", ""]
                    lines += code_blocks(plans)
        return "\n".join(lines).rstrip() + "\n"

    def targets(self) -> list[str]:
        lines = []
        for store in self.stores:
            for rate in store.verify:
                if rate.source.startswith("synthetic"):
                    continue
                verdict = "met" if rate.per_second >= VERIFY_TARGET else "NOT met"
                lines.append(
                    f"- verify, {store.database} store of {store.events:,}, {rate.source}: "
                    f"{rate.per_second:,.0f} events/s on one core (target >= "
                    f"{VERIFY_TARGET:,}: {verdict}; events average "
                    f"{rate.bytes / max(rate.events, 1):,.0f} bytes)."
                )
            for proof in store.proofs:
                verdict = "met" if proof.p50_ms < PROOF_TARGET_MS else "NOT met"
                lines.append(
                    f"- {proof.kind} at {proof.tree_size:,} events: p50 {proof.p50_ms:.2f} ms, "
                    f"p99 {proof.p99_ms:.2f} ms (target < {PROOF_TARGET_MS:g} ms: {verdict})."
                )
            for search in store.searches:
                verdict = "met" if search.p99_ms < SEARCH_TARGET_MS else "NOT met"
                lines.append(
                    f"- search {search.query}, {store.database} at {store.events:,}: p99 "
                    f"{search.p99_ms:.1f} ms (target < {SEARCH_TARGET_MS:g} ms at 10M on "
                    f"PostgreSQL: {verdict} at this size)."
                )
        return lines or ["- nothing measured"]

    def raw(self) -> dict[str, Any]:
        raw = super().raw()
        for cost, data in zip(self.append, raw["append"], strict=True):
            data["create_ratio"], data["read_ratio"] = cost.create_ratio, cost.read_ratio
        return raw


def _rate(result: Throughput) -> str:
    if result.failed:
        attempted = result.created + result.errors
        return f"failed ({result.errors:,} of {attempted:,}) | -"
    return f"{result.per_second:,.0f} | {result.p50_ms:.0f} / {result.p99_ms:.0f}"


def append_table(costs: list[AppendCost]) -> str:
    return markdown_table(
        "Database | Round | Creates/s without log | p50 / p99 ms | Creates/s with log"
        " | p50 / p99 ms | with / without | Reads/s without log | p50 / p99 ms"
        " | Reads/s with log | p50 / p99 ms | with / without",
        (
            [
                cost.database,
                cost.round,
                _rate(cost.without_log.creates),
                _rate(cost.with_log.creates),
                f"x{cost.create_ratio:.2f}",
                _rate(cost.without_log.reads),
                _rate(cost.with_log.reads),
                f"x{cost.read_ratio:.2f}",
            ]
            for cost in costs
        ),
    )


def _append_notes(costs: list[AppendCost]) -> list[str]:
    lines = []
    by_database: dict[str, list[AppendCost]] = {}
    for cost in costs:
        by_database.setdefault(cost.database, []).append(cost)
    for database, rounds in by_database.items():
        if len(rounds) > 1:
            creates = [c.create_ratio for c in rounds]
            reads = [c.read_ratio for c in rounds]
            lines.append(
                f"- {database}, over {len(rounds)} rounds: creates "
                f"x{sum(creates) / len(creates):.2f} (x{min(creates):.2f} to x{max(creates):.2f}), "
                f"reads x{sum(reads) / len(reads):.2f} (x{min(reads):.2f} to x{max(reads):.2f})."
            )
    for cost in costs:
        side = cost.with_log
        lines.append(
            f"- {cost.database}, round {cost.round}: this code's server logged "
            f"{side.audit_events:,} events ({side.sequenced:,} sequenced a second after the reads, "
            f"{side.checkpoints:,} checkpoints); reads cycled through {side.read_ids:,} "
            f"ServiceRequests (baseline {cost.without_log.read_ids:,}). Baseline: "
            f"{cost.without_log.code}."
        )
    return [*lines, ""] if lines else []


def verify_table(stores: list[StoreResult]) -> str:
    rows: list[list[object]] = []
    for store in stores:
        where = f"{store.database} {store.events:,}"
        for rate in store.verify:
            rows.append(
                [
                    where,
                    rate.source,
                    f"{rate.events:,}",
                    f"{rate.bytes / max(rate.events, 1):,.0f}",
                    f"{rate.seconds:,.1f}",
                    f"{rate.per_second:,.0f}",
                    f"{rate.bytes / rate.seconds / 1e6:,.0f}",
                    f"{rate.cpu_seconds / rate.seconds:.2f}",
                    f"{rate.checkpoints:,}",
                    "yes" if rate.ok else "NO: " + str(rate.problem),
                ]
            )
        if store.export_seconds is not None:
            exported = store.exported or store.events
            rows.append(
                [
                    where,
                    "writing the export (export_log, not pinned)",
                    f"{exported:,}",
                    "",
                    f"{store.export_seconds:,.1f}",
                    f"{exported / store.export_seconds:,.0f}",
                    *[""] * 4,
                ]
            )
    return markdown_table(
        "Store | Source | Events | Mean event bytes | Seconds | Events/s | MB/s"
        " | CPU / wall | Checkpoints | OK",
        rows,
    )


def verify_notes(stores: list[StoreResult]) -> list[str]:
    lines = []
    for store in stores:
        for rate in store.verify:
            found = rate.diagnostics or {}
            if "sequenced_events_per_second" not in found:
                continue
            lines.append(
                f"- Where the database path's time goes ({store.database}, first "
                f"{found['events']:,} events, same pinned process): streaming the rows alone "
                f"as verify_database does (gateway.access_log.export.sequenced_events) runs at "
                f"{found['sequenced_events_per_second']:,.0f} events/s "
                f"(CPU / wall {found['sequenced_events_cpu_share']:.2f}); the same query "
                f"through a psycopg server-side cursor in binary format (not the gateway's "
                f"code) at {found['binary_cursor_per_second']:,.0f} events/s (CPU / wall "
                f"{found['binary_cursor_cpu_share']:.2f})."
            )
    return [*lines, ""] if lines else []


def proof_table(stores: list[StoreResult]) -> str:
    return markdown_table(
        "Store | Proof | Tree size | Proofs | p50 ms | p99 ms | max ms | mean ms"
        " | Hashes in proof | Stored hashes read",
        (
            [
                f"{store.database} {store.events:,}",
                p.kind,
                f"{p.tree_size:,}",
                f"{p.proofs:,}",
                *(f"{ms:.2f}" for ms in (p.p50_ms, p.p99_ms, p.max_ms, p.mean_ms)),
                f"{p.mean_path:.1f}",
                f"{p.mean_fetched:,.0f}",
            ]
            for store in stores
            for p in store.proofs
        ),
    )


def proof_parts_table(stores: list[StoreResult]) -> str:
    return markdown_table(
        ["Store", "Proof", *(f"{part} (mean / p50 ms)" for part in PARTS)],
        (
            [
                f"{store.database} {store.events:,}",
                p.kind,
                *(f"{p.parts_ms[part]:.2f} / {p.parts_p50_ms[part]:.2f}" for part in PARTS),
            ]
            for store in stores
            for p in store.proofs
        ),
    )


def search_table(stores: list[StoreResult], *, extra: bool = False) -> str:
    return markdown_table(
        "Database | Events | Query | Requests | p50 ms | p99 ms | max ms | mean ms"
        " | Entries per page | load avg",
        (
            [
                store.database,
                f"{store.events:,}",
                s.query,
                f"{s.requests}{f' ({s.errors} failed)' if s.errors else ''}",
                *(f"{ms:.1f}" for ms in (s.p50_ms, s.p99_ms, s.max_ms, s.mean_ms)),
                f"{s.mean_entries:.1f}",
                f"{s.load_average:.2f}",
            ]
            for store in stores
            for s in (store.extra_searches if extra else store.searches)
        ),
    )


def load_table(stores: list[StoreResult]) -> str:
    return markdown_table(
        "Database | Events | References | Stored nodes | Checkpoints"
        " | Mean event bytes | Rows s | Events/s | Indexes s | VACUUM/ANALYZE s"
        " | Checked against log._row",
        (
            [
                s.database,
                f"{s.load.events:,}",
                f"{s.load.references:,}",
                f"{s.load.nodes:,}",
                f"{s.load.checkpoints:,}",
                f"{s.load.mean_event_bytes:,.0f}",
                f"{s.load.seconds:,.0f}",
                f"{s.load.per_second:,.0f}",
                f"{s.load.index_seconds:,.0f}",
                f"{s.load.analyze_seconds:,.0f}",
                f"{s.load.checked:,}",
            ]
            for s in stores
        ),
    )


def check_lines(checks: list[TableCheck], stores: list[StoreResult]) -> list[str]:
    lines = []
    for check in checks:
        rows = ", ".join(f"{table} {count:,}" for table, count in check.rows_compared.items())
        lines.append(
            f"- {check.database}: {check.events:,} events loaded by the loader and appended "
            f"+ sequenced by the gateway's own code (checkpoint every "
            f"{check.checkpoint_every:,}): identical rows ({rows}; seq values "
            f"{'identical too' if check.same_seq else 'differ, positions agree'}). The "
            f"gateway then appended and sequenced {check.continued_events:,} more on the "
            f"loaded store and verify_database passed over all {check.verified_events:,}."
        )
    for store in stores:
        for rate in store.verify:
            if rate.source.startswith("database"):
                lines.append(
                    f"- {store.database} {store.events:,}: verify_database over the loaded "
                    f"store: {'ok' if rate.ok else 'FAILED'} ({rate.events:,} events, "
                    f"{rate.checkpoints:,} checkpoints)."
                )
        if store.proofs:
            total = sum(p.proofs for p in store.proofs)
            lines.append(
                f"- {store.database} {store.events:,}: every one of the {total:,} proofs "
                "timed (and their warm-ups) verified against its checkpoint's root."
            )
        if store.after_server:
            after = store.after_server
            lines.append(
                f"- {store.database} {store.events:,}: after the search server stopped the "
                f"log held {after['events']:,} events, {after['sequenced']:,} sequenced, "
                f"{after['checkpoints']:,} checkpoints (loaded: {store.load.checkpoints:,}): "
                "the server's sequencer carried on from the loaded tree."
            )
    return lines or ["- none"]
