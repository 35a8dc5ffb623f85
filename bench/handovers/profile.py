"""Where a request's time goes: the real application in process, under cProfile.

The application (`create_app`, its lifespan included: the directory loaded, the access
log's sequencer running) on a fresh, migrated store, called through httpx's ASGI
transport with a bearer token of AZZ's client, one request at a time. Everything runs
on this thread: the work a server hands to its worker threads (sync routes,
transactions) is run inline here instead (`anyio.to_thread.run_sync` replaced for the
measurement), so cProfile, which sees one thread, sees all of it. Timings are therefore
of a server with no concurrency: CPU per request, not throughput.

    python -m bench.handovers.profile [--database sqlite] [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from bench.auth import DATASET_SCOPES, KID, SCOPES, BenchAuth, bench_auth, client_id
from bench.handovers.examples import Handovers
from bench.handovers.http import PATHS
from bench.measure import FHIR_JSON, create_bodies
from bench.profiling import figures, inline_threads, own_time_table, timed, under_profiler
from bench.report import markdown_table
from bench.server import upgrade
from bench.stores import DATABASES, DEFAULT_POSTGRES_URL, fresh_store
from gateway.app import create_app
from gateway.auth.client_assertion import client_assertion
from gateway.auth.token_service import ASSERTION_TYPE
from gateway.platform.settings import Settings

BASE = "http://testserver"
WARMUP = 10
TOP = 25


# What the report shows of a profile: (label, file, function); a label's figure is the
# sum over the functions that match (a coroutine counts a call per resumption).
SELECTED = (
    (
        "the request, from the gateway's outermost middleware",
        "gateway/web/middleware.py",
        "__call__",
    ),
    ("authentication (the bearer token)", "gateway/auth/authentication.py", "authenticate"),
    ("route: POST /fhir/ServiceRequest", "gateway/fhir/routes.py", "create"),
    ("route: POST /api/handovers", "gateway/handovers/routes.py", "push_handover"),
    ("parse_dataset", "core/handover/dataset_input.py", "parse_dataset"),
    ("rule_issues", "core/handover/dataset_rules.py", "rule_issues"),
    ("check_completeness (the checklist)", "core/handover/checklist.py", "check_completeness"),
    ("to_fhir", "core/handover/fhir/resources.py", "to_fhir"),
    ("repeat look-up (dataset_submissions)", "gateway/handovers/service.py", "_refuse_repeat"),
    ("SubmissionStore.add", "gateway/handovers/store.py", "add"),
    ("ResourceService.create", "gateway/fhir/service.py", "create"),
    ("- validated", "gateway/fhir/service.py", "validated"),
    (
        "-- validate_structure (R4 models, fhir.resources)",
        "core/fhir/validation.py",
        "validate_structure",
    ),
    (
        "-- schema_issues (R4 JSON schema, jsonschema)",
        "gateway/fhir/schema_check.py",
        "schema_issues",
    ),
    ("-- check_uk_core", "core/fhir/validation.py", "check_uk_core"),
    ("- sharing on write (consent, agreements)", "gateway/fhir/service.py", "_check_sharing"),
    ("- ResourceStore.insert (rows, index, parties)", "gateway/fhir/store.py", "insert"),
    (
        "access log: the request's AuditEvents (append_in)",
        "gateway/access_log/recording.py",
        "append_in",
    ),
    ("transaction open and commit (Database.write)", "gateway/platform/database.py", "write"),
    ("access-log sequencer (background, Sequencer.run)", "gateway/access_log/sequencer.py", "run"),
)


@dataclass
class Profiled:
    kind: str
    requests: int
    ms_per_request: float  # wall time, no profiler: one request at a time, on one thread
    profiled_ms_per_request: float  # wall time under the profiler (which slows Python)
    # label -> (calls per request, cumulative ms per request), for SELECTED
    selected: dict[str, tuple[float, float]] = field(default_factory=dict)
    # (function, calls per request, own ms per request, cumulative ms per request), the
    # TOP by own time
    own: list[tuple[str, float, float, float]] = field(default_factory=list)


def profile_requests(
    database: str, postgres_url: str, auth: BenchAuth, *, requests: int
) -> dict[str, Profiled]:
    """Creates and handovers on a fresh store: after a warm-up, `requests` of each timed
    without the profiler, then `requests` more under it."""
    with fresh_store(database, postgres_url) as url:
        upgrade(url, auth)
        settings = Settings(
            database_url=url,
            config_dir=auth.config_dir,
            env="dev",
            token_signing_key=auth.signing_key,
            audit_signing_key=auth.audit_signing_key,
            rate_limit_per_second=1_000_000,
            rate_limit_burst=1_000_000,
            log_level="warning",
        )
        with inline_threads():
            return asyncio.run(_profile(settings, auth, requests, database))


async def _profile(
    settings: Settings, auth: BenchAuth, requests: int, database: str
) -> dict[str, Profiled]:
    app = create_app(settings)
    handovers = Handovers(f"profile-{database}", datetime.now(UTC))
    # Patients apart from the HTTP measurement's (bench/handovers/http.py).
    bodies = {"create": create_bodies(1_000_000, seed=1), "handover": handovers.body}
    types = {"create": FHIR_JSON, "handover": "application/json"}
    results: dict[str, Profiled] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            token = await _token(client, auth, handovers.sender)
            for kind in ("create", "handover"):
                headers = {"Content-Type": types[kind], "Authorization": f"Bearer {token}"}

                async def send(kind: str = kind, headers: dict[str, str] = headers) -> None:
                    content = bodies[kind]()
                    response = await client.post(PATHS[kind], content=content, headers=headers)
                    if response.status_code != 201:
                        raise RuntimeError(f"{kind}: {response.status_code} {response.text[:500]}")

                results[kind] = await _profiled(kind, send, requests)
    return results


async def _profiled(kind: str, send: Callable[[], Awaitable[None]], requests: int) -> Profiled:
    async def sends() -> None:
        for _ in range(requests):
            await send()

    for _ in range(WARMUP):
        await send()
    plain, _ = await timed(sends)
    profiled_seconds, _, profiler = await under_profiler(sends)
    found = figures(profiler, SELECTED, requests, top=TOP)
    return Profiled(
        kind,
        requests,
        1000 * plain / requests,
        1000 * profiled_seconds / requests,
        found.selected,
        found.own,
    )


async def _token(client: httpx.AsyncClient, auth: BenchAuth, ods: str) -> str:
    sender = client_id(ods)
    token_url = f"{BASE}/oauth2/token"
    assertion = client_assertion(sender, token_url, auth.private_key, kid=KID, algorithm="ES384")
    response = await client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": " ".join([*SCOPES, *DATASET_SCOPES]),
        },
    )
    if response.status_code != 200:
        raise RuntimeError(f"no token: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


def selected_table(results: dict[str, Profiled]) -> str:
    rows = []
    for label, _, _ in SELECTED:
        found = [p.selected.get(label) for p in results.values()]
        if any(found):
            rows.append([label, *(f"{f[1]:.2f} ({f[0]:.1f})" if f else "-" for f in found)])
    return markdown_table(["Where", *(f"{kind} ms / request (calls)" for kind in results)], rows)


def own_table(profiled: Profiled, limit: int = 15) -> str:
    return own_time_table(profiled.own[:limit], "request", calls_format=",.1f", own_format=".2f")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handovers.profile", description=__doc__)
    parser.add_argument("--database", choices=DATABASES, default="sqlite")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    args = parser.parse_args(argv)
    with bench_auth() as auth:
        results = profile_requests(args.database, args.postgres_url, auth, requests=args.requests)
    for profiled in results.values():
        print(
            f"{profiled.kind}: {profiled.ms_per_request:.1f} ms per request "
            f"({profiled.profiled_ms_per_request:.1f} ms profiled)"
        )
    print(selected_table(results))
    for profiled in results.values():
        print(f"\n{profiled.kind}, by own time:\n\n{own_table(profiled)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
