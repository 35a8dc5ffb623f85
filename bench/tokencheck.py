"""What checking the access token costs a request, measured in this process.

- `AccessTokens.verify` of a token it has not seen (the ES256 signature checked, then
  cached) and of one it has (a dictionary lookup under a lock).
- `authenticate`, the dependency every data route declares: the bearer header parsed,
  the token verified (cached), the client looked up in the registry, the rate limiter,
  the end-user headers. Run as FastAPI runs it (awaited in the event loop when it is a
  coroutine function; in FastAPI's thread pool when it is a plain function), for the
  first and the last client registered (the registry is searched in order).
- For scale, the thread-pool hop alone: what any plain-function dependency costs a
  request before it does anything.

Timed one call at a time with time.perf_counter_ns; medians and p99 in microseconds.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from bench.auth import RATE_LIMIT, BenchAuth, client_id, organisation_codes
from bench.stats import CallTiming, call_timing, time_calls
from gateway.access_log.keys import KeyHistory, load_audit_signing_key
from gateway.access_log.sequencer import Sequencer
from gateway.auth.access_tokens import AccessTokens
from gateway.auth.authentication import authenticate
from gateway.auth.rate_limit import RateLimiter
from gateway.auth.signing_key import load_signing_key
from gateway.configuration.loader import load_config
from gateway.platform.database import Database
from gateway.platform.runtime import Runtime
from gateway.platform.settings import Settings

# Fresh tokens are made (ES256-signed) one per verification, so fewer of them.
FRESH = 2_000
CACHED = 20_000
THREAD_POOL = 5_000
HOP = "thread-pool hop alone"  # the report leaves this row out of the verdict

T = TypeVar("T")


def measure_token_check(auth: BenchAuth, *, scale: float = 1.0) -> list[CallTiming]:
    directory = Path(tempfile.mkdtemp(prefix="gwbench-tokens-"))
    try:
        return asyncio.run(_measure(auth, directory, scale))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _measure(auth: BenchAuth, directory: Path, scale: float) -> list[CallTiming]:
    settings = Settings(
        config_dir=auth.config_dir,
        token_signing_key=directory / "token-signing-key.pem",
        rate_limit_per_second=RATE_LIMIT,
        rate_limit_burst=RATE_LIMIT,
    )
    config = load_config(settings.config_dir)
    key = load_signing_key(settings.token_signing_key, generate_if_missing=True)
    # As the server makes it (gateway.app.build_runtime).
    tokens = AccessTokens(
        key,
        issuer=f"urn:mh-gateway:{config.deployment.name}",
        lifetime_seconds=settings.token_lifetime_seconds,
    )
    # authenticate never touches the database; the runtime needs one all the same.
    database = Database(f"sqlite:///{directory / 'unused.db'}")
    audit_key = load_audit_signing_key(
        directory / "audit-signing-key.pem", name="bench/audit", generate_if_missing=True
    )
    audit_keys = KeyHistory.of(audit_key, [])
    runtime = Runtime(
        settings,
        config,
        database,
        tokens,
        RateLimiter(),
        audit_key,
        audit_keys,
        Sequencer(audit_key),
    )
    codes = organisation_codes()
    first, last = config.client(client_id(codes[0])), config.client(client_id(codes[-1]))
    assert first is not None
    assert last is not None
    fresh = [
        tokens.issue(first, first.allowed_scopes).access_token
        for _ in range(max(10, int(FRESH * scale)))
    ]
    fresh_tokens = iter(fresh)
    cached, pool = max(100, int(CACHED * scale)), max(100, int(THREAD_POOL * scale))
    how, run_dependency = _as_fastapi_runs(authenticate)
    try:
        timings = [
            call_timing(
                "AccessTokens.verify, new token (signature)",
                time_calls(len(fresh), lambda _: tokens.verify(next(fresh_tokens))),
            ),
            call_timing(
                "AccessTokens.verify, cached token",
                time_calls(cached, lambda _: tokens.verify(fresh[0])),
            ),
        ]
        for label, client in (("first", first), ("last", last)):
            token = tokens.issue(client, client.allowed_scopes).access_token
            tokens.verify(token)
            timings.append(
                await _timed(
                    f"authenticate ({how}), cached token, {label} of {len(config.clients)} clients",
                    cached,
                    lambda token=token: _request(token),  # type: ignore[misc]
                    lambda request: run_dependency(request, runtime),
                )
            )
        timings.append(
            await _timed(
                f"{HOP} (what a plain-function dependency adds)",
                pool,
                lambda: None,
                lambda _: run_in_threadpool(_nothing),
            )
        )
        return timings
    finally:
        database.dispose()


def _as_fastapi_runs(
    dependency: Callable[..., Any],
) -> tuple[str, Callable[..., Awaitable[Any]]]:
    """How FastAPI calls a dependency: awaited if it is a coroutine function, else in
    its thread pool (fastapi.dependencies.utils.solve_dependencies)."""
    if inspect.iscoroutinefunction(dependency):
        return "awaited in the event loop", dependency

    async def in_thread_pool(*args: Any) -> Any:
        return await run_in_threadpool(dependency, *args)

    return "in FastAPI's thread pool", in_thread_pool


def _request(token: str) -> Request:
    """A create's request as the dependency sees it (a new object per request)."""
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/fhir/ServiceRequest",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1:8080"),
                (b"accept", b"application/fhir+json"),
                (b"content-type", b"application/fhir+json"),
                (b"content-length", b"600"),
                (b"authorization", f"Bearer {token}".encode()),
            ],
            "state": {},
        }
    )


def _nothing() -> None:
    return None


async def _timed(
    check: str, iterations: int, prepare: Callable[[], T], call: Callable[[T], Awaitable[Any]]
) -> CallTiming:
    gc.collect()
    samples: list[int] = []
    for _ in range(iterations):
        argument = prepare()
        started = time.perf_counter_ns()
        await call(argument)
        samples.append(time.perf_counter_ns() - started)
    return call_timing(check, samples)
