"""The handover benchmark's results: Markdown for people, JSON with every figure."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.handovers.http import KINDS, KindResult
from bench.handovers.mapping import CHECKS, FUNCTIONS, MappingTiming, ValidationTiming
from bench.handovers.profile import Profiled, own_table, selected_table
from bench.handovers.stored import Stored
from bench.report import BenchmarkReport, markdown_table

# The target: the full handover pipeline at no less than half the plain
# single-resource create rate.
TARGET_RATIO = 0.5
STORED_KINDS = ("ServiceRequest", "Flag", "Communication", "Provenance")


@dataclass
class DatabaseResult:
    database: str
    kinds: dict[str, KindResult]
    stored: Stored
    load_average: float  # 1-minute, just before the warm-up: other work on the machine
    # The same requests in process, one at a time, timed and then under cProfile.
    profile: dict[str, Profiled] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        create = self.kinds["create"].per_second
        return self.kinds["handover"].per_second / create if create else math.nan

    @property
    def failed(self) -> bool:
        return any(kind.errors_anywhere or not kind.ok for kind in self.kinds.values())


@dataclass
class HandoverReport(BenchmarkReport):
    mapping_core: int = -1
    mapping: list[MappingTiming] = field(default_factory=list)
    validation: list[ValidationTiming] = field(default_factory=list)
    databases: list[DatabaseResult] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [
            *self.header("Handover pipeline benchmark"),
            "",
            "## Target",
            "",
            *targets(self.databases),
        ]
        if self.databases:
            lines += [
                "",
                "## Over HTTP: plain create and handover push, same run",
                "",
                HTTP_LEGEND,
                "",
                http_table(self.databases),
                "",
                "### Each round",
                "",
                rounds_table(self.databases),
                "",
                "### What the store holds afterwards",
                "",
                stored_table(self.databases),
            ]
            errors = [
                f"- {d.database} {k.kind}: {error}"
                for d in self.databases
                for k in d.kinds.values()
                for error in k.first_errors
            ]
            if errors:
                lines += ["", "### First failed requests", "", *errors]
        profiled = [d for d in self.databases if d.profile]
        if profiled:
            lines += ["", "## Where the time goes: one request at a time, in process", ""]
            lines += [PROFILE_LEGEND]
            for d in profiled:
                lines += ["", f"### {d.database}", "", *profile_summary(d.profile)]
                lines += ["", selected_table(d.profile)]
                if "handover" in d.profile:
                    lines += ["", "The handover's functions by own time (the top 15):", ""]
                    lines += [own_table(d.profile["handover"])]
        if self.validation:
            lines += [
                "",
                "## Validating each resource, in process, one core",
                "",
                VALIDATION_LEGEND,
                "",
                validation_table(self.validation),
            ]
        if self.mapping:
            lines += [
                "",
                "## Mapping in process, one core",
                "",
                MAPPING_LEGEND.format(core=self.mapping_core),
                "",
                mapping_table(self.mapping),
            ]
        return "\n".join(lines).rstrip() + "\n"

    def raw(self) -> dict[str, Any]:
        return {
            "started": self.started.isoformat(),
            "command": self.command,
            "machine": self.machine,
            "settings": self.settings,
            "versions": self.versions,
            "target_ratio": TARGET_RATIO,
            "mapping_core": self.mapping_core,
            "mapping": [_timing(t) for t in self.mapping],
            "validation": [
                {
                    "request": v.request,
                    "resource": v.resource,
                    "json_bytes": v.json_bytes,
                    "checks": {name: _timing(t) for name, t in v.checks.items()},
                }
                for v in self.validation
            ],
            "databases": [
                {
                    "database": d.database,
                    "ratio": d.ratio,
                    "load_average": d.load_average,
                    "stored": asdict(d.stored),
                    "profile": {kind: asdict(p) for kind, p in d.profile.items()},
                    "kinds": {
                        name: {
                            "path": k.path,
                            "clients": k.clients,
                            "resources_per_request": k.resources_per_request,
                            **k.summary(),
                            "statuses": k.statuses,
                            "first_errors": k.first_errors,
                            "rounds": [asdict(r) for r in k.rounds],
                        }
                        for name, k in d.kinds.items()
                    },
                }
                for d in self.databases
            ],
        }


def _timing(timing: MappingTiming) -> dict[str, Any]:
    return asdict(timing) | {"per_second": timing.per_second, "microseconds": timing.microseconds}


HTTP_LEGEND = (
    "**Requests/s**: 201s answered within the measured rounds, per second. "
    "**Resources/s**: requests/s times the resources each stores (a create 1; a handover "
    "5: ServiceRequest, 2 Flags, Communication, Provenance), AuditEvents aside. **p50 / "
    "p95 / p99**: latency of those 201s at the client, with every connection busy (so "
    "mostly queueing). **Errors**: answers other than 201 (or none) within the measured "
    "rounds / in the whole run (warm-up, the check push and the rounds' tails included). "
    "**Server ms**: the server process's CPU time per request; **rest ms**: the machine's "
    "other busy time per request, the load generator's excepted (the database server's "
    "backends on PostgreSQL; SQLite runs inside the server). **Client**: the share of a "
    "core the load generator (httpx, in the benchmark's process) used, out of the "
    "machine's cores in use (**machine**)."
)

MAPPING_LEGEND = (
    "Datasets per second (and µs per dataset), median of the batches; the process pinned "
    "to core {core}. `parse_dataset` reads the decoded JSON object into the dataset "
    "models; `to_fhir` maps the parsed dataset to its resources; `from_fhir` maps them "
    "back; `parse_dataset + to_fhir` is what a push maps. **spread**: (max - min) / "
    "median of the batches' rates, the largest of the row's four."
)


PROFILE_LEGEND = (
    "The real application (`create_app`, lifespan and access-log sequencer included) on a "
    "fresh store of its own, called through httpx's ASGI transport with AZZ's token, one "
    "request at a time on one thread (the work a server hands to worker threads run inline), "
    "so no HTTP, no concurrency and no load generator: what one request costs. Timed "
    "without the profiler, then the same number again under cProfile; the table gives "
    "cumulative ms per request under the profiler (which slows Python code more than C "
    "code, so the parts add up to more than the unprofiled time) and calls per request "
    "(a coroutine counts one call per resumption). Indented rows are inside "
    "`ResourceService.create`."
)

VALIDATION_LEGEND = (
    "`validated` (gateway/fhir/service.py): what `ResourceService.create` checks "
    "every resource a client sends with before storing it; and its parts: the R4 models "
    "(`validate_structure`, fhir.resources), HL7's R4 JSON schema "
    "(`fhir_schema.schema_issues`, jsonschema), the UK Core identifier rules "
    "(`check_uk_core`). µs per call, median of the batches; the process pinned to one core. "
    "The create's ServiceRequest is the one `POST /fhir/ServiceRequest` sends here, and a "
    "create pays for it; the handover's resources are `to_fhir` of the handover example, "
    "which a push no longer validates again when it stores them (`create(..., mapped=True)`, "
    "since 01d72e0): what that check would cost, for scale."
)


def profile_summary(profile: dict[str, Profiled]) -> list[str]:
    lines = [
        f"- {p.kind}: {p.ms_per_request:.1f} ms per request ({p.requests} requests; "
        f"{p.profiled_ms_per_request:.1f} ms under the profiler)"
        for p in profile.values()
    ]
    if "create" in profile and "handover" in profile:
        ratio = profile["create"].ms_per_request / profile["handover"].ms_per_request
        lines.append(
            f"- so one process, doing nothing else, would push x{ratio:.2f} as many "
            "handovers as it creates ServiceRequests."
        )
    return lines


def validation_table(timings: list[ValidationTiming]) -> str:
    rows: list[list[str]] = [
        [v.request, v.resource, f"{v.json_bytes:,}"]
        + [f"{v.checks[c].microseconds:,.0f}" for c in CHECKS]
        for v in timings
    ]
    for request in dict.fromkeys(v.request for v in timings):
        mine = [v for v in timings if v.request == request]
        totals = [f"**{sum(v.checks[c].microseconds for v in mine):,.0f}**" for c in CHECKS]
        size = sum(v.json_bytes for v in mine)
        rows.append([request, f"all {len(mine)}", f"{size:,}", *totals])
    return markdown_table(
        ["Request", "Resource", "JSON bytes", *(f"`{c}` µs" for c in CHECKS)], rows
    )


def targets(databases: list[DatabaseResult]) -> list[str]:
    if not databases:
        return ["- no HTTP measurement in this run."]
    lines = []
    for d in databases:
        create, handover = d.kinds["create"], d.kinds["handover"]
        verdict = "met" if d.ratio >= TARGET_RATIO else "NOT met"
        if d.failed:
            verdict += " (but requests failed: see the errors)"
        lines.append(
            f"- {d.database}: handovers {handover.per_second:,.1f}/s against plain creates "
            f"{create.per_second:,.1f}/s: **x{d.ratio:.2f}** (target ≥ x{TARGET_RATIO:g}: "
            f"{verdict}); {handover.resources_per_second:,.0f} resources/s in handovers "
            f"against {create.resources_per_second:,.0f} in creates. Server CPU per "
            f"request: handover {handover.server_cpu_ms:.1f} ms, create "
            f"{create.server_cpu_ms:.1f} ms: by the server's CPU, "
            f"x{create.server_cpu_ms / handover.server_cpu_ms:.2f} as many handovers as creates."
        )
    return lines


def http_table(databases: list[DatabaseResult]) -> str:
    return markdown_table(
        "Database | Request | Requests/s | Resources/s | p50 / p95 / p99 ms | Errors"
        " | Server ms | Rest ms | Client / machine cores | Handover / create",
        (
            [
                d.database,
                f"{name} `POST {k.path}`",
                f"{k.per_second:,.1f}",
                f"{k.resources_per_second:,.0f}",
                f"{k.latency(0.5):.0f} / {k.latency(0.95):.0f} / {k.latency(0.99):.0f}",
                f"{k.errors:,} / {k.errors_anywhere:,}",
                f"{k.server_cpu_ms:.2f}",
                f"{k.rest_cpu_ms:.2f}",
                f"{k.client_cores:.2f} / {k.machine_cores:.2f}",
                f"x{d.ratio:.2f}" if name == "handover" else "",
            ]
            for d in databases
            for name, k in ((name, d.kinds[name]) for name in KINDS)
        ),
    )


def rounds_table(databases: list[DatabaseResult]) -> str:
    return markdown_table(
        "Database | Round | First | Creates/s | Create p50 / p99 ms | Handovers/s"
        " | Handover p50 / p99 ms | Handover / create",
        (
            [
                d.database,
                number,
                "create" if number % 2 == 1 else "handover",
                f"{c.per_second:,.1f}",
                f"{c.p50_ms:.0f} / {c.p99_ms:.0f}",
                f"{h.per_second:,.1f}",
                f"{h.p50_ms:.0f} / {h.p99_ms:.0f}",
                f"x{h.per_second / c.per_second:.2f}",
            ]
            for d in databases
            for number, (c, h) in enumerate(
                zip(d.kinds["create"].rounds, d.kinds["handover"].rounds, strict=True), start=1
            )
        ),
    )


def stored_table(databases: list[DatabaseResult]) -> str:
    return markdown_table(
        "Database | ServiceRequest | Flag | Communication | Provenance | Submissions"
        " | AuditEvents (by subtype) | per create / per handover | Check | load avg before",
        (_stored_row(d) for d in databases),
    )


def _stored_row(d: DatabaseResult) -> list[str]:
    s = d.stored
    subtypes = ", ".join(f"{name} {count:,}" for name, count in sorted(s.audit_events.items()))
    creates, pushed = d.kinds["create"].created, s.submissions
    per = (
        f"{s.audit_events.get('create', 0) / creates:.2f} / "
        f"{s.audit_events.get('handover-push', 0) / pushed:.2f}"
        if creates and pushed
        else "-"
    )
    return [
        d.database,
        *(f"{s.resources.get(kind, 0):,}" for kind in STORED_KINDS),
        f"{s.submissions:,}",
        f"{s.audit_total:,} ({subtypes})",
        per,
        "; ".join(s.problems) if s.problems else "every 201 stored, nothing more",
        f"{d.load_average:.2f}",
    ]


def mapping_table(timings: list[MappingTiming]) -> str:
    rows = []
    for example in dict.fromkeys(t.example for t in timings):
        row = {t.function: t for t in timings if t.example == example}
        rows.append(
            [
                example,
                row[FUNCTIONS[0]].resources,
                *(f"{row[f].per_second:,.0f}/s ({row[f].microseconds:,.0f} µs)" for f in FUNCTIONS),
                f"{max(t.spread for t in row.values()):.0%}",
            ]
        )
    return markdown_table(["Example", "Resources", *(f"`{f}`" for f in FUNCTIONS), "spread"], rows)
