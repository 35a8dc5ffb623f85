"""The cost of authentication: create throughput with tokens (this checkout) against the
foundation's without them (the code before authentication), measured in the same run.

The foundation is checked out with `git worktree add` into a temporary directory
(removed at the end) and served from there with the same interpreter and venv:
`python -m gateway.commands.cli` with the worktree as working directory and first on PYTHONPATH,
so that it imports its own `gateway` package (and `mappings`, `consent`), not this
checkout's. That it really does is checked on every server: the foundation has no token
endpoint (POST /oauth2/token answers 404) and serves data without a token (200), while
this checkout answers 401 without one.

Each side gets a fresh store of its own, migrated by its own `gateway db upgrade`, and
the same configuration directory (the foundation reads deployment.yaml and
organisations.yaml and ignores clients.yaml), so both stores hold the same 202
Organizations and nothing else when the creates start. Same create client, same
ServiceRequests, same wrk settings, one server process each.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.auth import TokenSource
from bench.creates import CreateLoad
from bench.measure import REQUESTER, Throughput
from bench.server import REPO, Code, Servers, check_authenticates

# The commit before "SMART Backend Services tokens and organisation-level access control".
DEFAULT_REF = "ef899ee^"
# HTTP patients of these creates (both sides send the same ServiceRequests).
FIRST_PATIENT = 900_000


@dataclass(frozen=True, slots=True)
class Baseline:
    ref: str  # as given (--baseline-ref)
    commit: str  # what it names
    subject: str  # the commit's subject line
    code: Code

    def describe(self) -> str:
        return f"{self.ref} = {self.commit[:10]} ({self.subject})"


@dataclass(frozen=True, slots=True)
class AuthCost:
    """Creates on a fresh store: the foundation without tokens, this code with them."""

    baseline: str  # Baseline.describe()
    without_tokens: Throughput
    with_tokens: Throughput
    tokens_fetched: int  # token requests the authenticated run made

    @property
    def ratio(self) -> float:
        """Creates/s with tokens over creates/s without (1.0: authentication is free)."""
        before = self.without_tokens.per_second
        return self.with_tokens.per_second / before if before else float("nan")

    @property
    def failed(self) -> bool:
        return self.with_tokens.failed or self.without_tokens.failed


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def foundation(ref: str) -> Iterator[Baseline]:
    """The code at `ref` in a temporary git worktree, removed afterwards."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    subject = _git("log", "-1", "--format=%s", commit)
    directory = Path(tempfile.mkdtemp(prefix="gwbench-baseline-"))
    worktree = directory / commit[:12]
    _git("worktree", "add", "--detach", "--quiet", str(worktree), commit)
    try:
        yield Baseline(ref, commit, subject, Code(f"{ref} ({commit[:10]})", worktree, True))
    finally:
        try:
            _git("worktree", "remove", "--force", str(worktree))
        except RuntimeError:
            shutil.rmtree(worktree, ignore_errors=True)
            _git("worktree", "prune")
        shutil.rmtree(directory, ignore_errors=True)


def check_is_baseline(base: str) -> None:
    """The server runs the worktree's code (no authentication), not this checkout's."""
    token = httpx.post(f"{base}/oauth2/token", timeout=10).status_code
    data = httpx.get(f"{base}/fhir/ServiceRequest", timeout=10).status_code
    if token != 404 or data != 200:
        raise RuntimeError(
            f"the baseline server answers POST /oauth2/token with {token} and an "
            f"unauthenticated search with {data} (expected 404 and 200): it is not "
            "running the baseline's code"
        )


def measure_auth_cost(
    database: str,
    servers: Servers,
    baseline: Baseline,
    creates: CreateLoad,
    *,
    seconds: float,
    warmup: float,
) -> AuthCost:
    with servers.fresh(database, baseline.code) as base:
        check_is_baseline(base)
        without_tokens = creates.run(
            base, seconds=seconds, warmup=warmup, first_patient=FIRST_PATIENT, bearer=None
        )
    with servers.fresh(database) as base:
        check_authenticates(base)
        tokens = TokenSource(base, servers.auth)
        with_tokens = creates.run(
            base,
            seconds=seconds,
            warmup=warmup,
            first_patient=FIRST_PATIENT,
            bearer=tokens.bearer(REQUESTER.ods),
        )
    return AuthCost(baseline.describe(), without_tokens, with_tokens, tokens.fetched)
