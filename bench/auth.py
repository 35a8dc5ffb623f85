"""Authentication for the benchmark: its own configuration directory, and access tokens.

Every /fhir data route needs a bearer token (SMART Backend Services) and shows a caller
only what its organisation is party to. The benchmark therefore serves a configuration
directory of its own, made in a temporary directory for the run:

- organisations.yaml: the 200 generated organisations (B0001 to B0200, named as the
  loader stores them, so the server's start-up finds their Organization resources
  unchanged), and AZZ and RZZ, the requester and performer of the HTTP creates;
- clients.yaml: one client per organisation (`bench-<code>`), allowed to create, read
  and search ServiceRequests and Communications, read Organizations, and create Flags
  and Provenances (DATASET_SCOPES, for bench/handovers' pushes); all of them share
  one EC P-384 key (ES384), whose private half stays in the temporary directory;
- agreements/dsa-bench-region.yaml: one data-sharing agreement, in force, between all of
  those organisations, for direct care and every clinical data category. The gateway
  shares nothing between organisations without one; the measured searches read what
  other organisations sent (a ServiceRequest's requester is drawn at random, and so is a
  Communication's sender, while the reader is the patient's trust or the recipient), and
  the HTTP creates share AZZ's requests with RZZ. Every generated organisation reads, and
  is read by, every other, so one regional agreement covers every pair the workload
  makes; a reader's searches then carry one SQL condition per other organisation
  (`_agreements_condition` in gateway/fhir/search/store.py);
- the server's token-signing key (GATEWAY_TOKEN_SIGNING_KEY), generated there by the
  first server to start (GATEWAY_ENV=dev) and shared by every server of the run, and
  likewise the access log's checkpoint-signing key (GATEWAY_AUDIT_SIGNING_KEY), which
  the access-log benchmark (bench/audit) makes first, to sign the checkpoints it loads;
- optionally (`ig_lead`, for bench/audit), an information-governance lead's client,
  `bench-ig-lead`, as config/demo's demo-ig-lead: organisation RZZ, scope
  system/AuditEvent.rs only.

`TokenSource` gets tokens from the running server's /oauth2/token the way a client
system does (a signed, single-use client assertion per token) and reuses each until it
is close to expiry.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from bench.data import ORGANISATIONS, organisation_code, organisation_name
from gateway.auth.client_assertion import client_assertion
from gateway.auth.token_service import ASSERTION_TYPE

# The demo deployment, whose referral checklists the benchmark deployment reuses.
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo"

# What every benchmark client may do, and asks for.
SCOPES = ("system/ServiceRequest.cruds", "system/Communication.cruds", "system/Organization.rs")
# What pushing a handover also needs (bench/handovers: a handover creates Flags and a
# Provenance besides its ServiceRequest and Communication); every client may ask for them,
# but TokenSource.token asks for SCOPES only, so the other benchmarks' tokens are unchanged.
DATASET_SCOPES = ("system/Flag.c", "system/Provenance.c")
KID = "bench-es384"
ALGORITHM = "ES384"
# The organisations of the HTTP creates (bench/measure.py: REQUESTER and PERFORMER).
HTTP_ORGANISATIONS = (("AZZ", "provider"), ("RZZ", "trust"))
# Token lifetime the servers are given (the most the gateway allows).
TOKEN_LIFETIME_SECONDS = 300
# The servers' default per-client rate limit, high enough never to answer 429 here.
RATE_LIMIT = 1_000_000
# The data-sharing agreement between every organisation of the benchmark.
AGREEMENT_ID = "DSA-BENCH-REGION-001"
AGREEMENT_PURPOSES = ("direct-care",)
AGREEMENT_CATEGORIES = ("referral", "escalation", "risk-flag", "safeguarding")
# The IG lead's client (bench/audit): reads the access log, nothing else.
IG_LEAD = "bench-ig-lead"
IG_LEAD_ODS = "RZZ"
IG_SCOPES = ("system/AuditEvent.rs",)


def client_id(ods: str) -> str:
    return f"bench-{ods.lower()}"


def organisation_codes() -> list[str]:
    """Every organisation with a client, in the order clients.yaml registers them."""
    return [ods for ods, _ in HTTP_ORGANISATIONS] + [
        organisation_code(n) for n in range(1, ORGANISATIONS + 1)
    ]


@dataclass(frozen=True)
class BenchAuth:
    directory: Path  # the run's temporary directory
    config_dir: Path  # GATEWAY_CONFIG_DIR
    signing_key: Path  # GATEWAY_TOKEN_SIGNING_KEY
    private_key: ec.EllipticCurvePrivateKey  # every client's
    audit_signing_key: Path  # GATEWAY_AUDIT_SIGNING_KEY

    def server_env(self) -> dict[str, str]:
        """The GATEWAY_ settings for authentication (and config) of a benchmark server."""
        return {
            "GATEWAY_ENV": "dev",
            "GATEWAY_CONFIG_DIR": str(self.config_dir),
            "GATEWAY_TOKEN_SIGNING_KEY": str(self.signing_key),
            "GATEWAY_AUDIT_SIGNING_KEY": str(self.audit_signing_key),
            "GATEWAY_TOKEN_LIFETIME_SECONDS": str(TOKEN_LIFETIME_SECONDS),
            "GATEWAY_RATE_LIMIT_PER_SECOND": str(RATE_LIMIT),
            "GATEWAY_RATE_LIMIT_BURST": str(RATE_LIMIT),
            # Per address: every benchmark client calls from 127.0.0.1, and a run asks
            # for a token per organisation.
            "GATEWAY_TOKEN_RATE_LIMIT_PER_SECOND": str(RATE_LIMIT),
            "GATEWAY_TOKEN_RATE_LIMIT_BURST": str(RATE_LIMIT),
            "GATEWAY_ANONYMOUS_RATE_LIMIT_PER_SECOND": str(RATE_LIMIT),
            "GATEWAY_ANONYMOUS_RATE_LIMIT_BURST": str(RATE_LIMIT),
            # The load generators open more connections than a deployment's clients do.
            "GATEWAY_HTTP_MAX_CONNECTIONS_PER_SOURCE": "1024",
        }


@contextmanager
def bench_auth(*, keep: bool = False, ig_lead: bool = False) -> Iterator[BenchAuth]:
    """A temporary configuration directory with the benchmark's clients and keys."""
    directory = Path(tempfile.mkdtemp(prefix="gwbench-auth-"))
    try:
        yield write_config(directory, ig_lead=ig_lead)
    finally:
        if keep:
            print(f"kept the benchmark configuration in {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def write_config(directory: Path, *, ig_lead: bool = False) -> BenchAuth:
    config_dir = directory / "config"
    keys = config_dir / "keys"
    keys.mkdir(parents=True)
    private_key = ec.generate_private_key(ec.SECP384R1())
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    jwk.update(kid=KID, alg=ALGORITHM, use="sig")
    (keys / "bench.jwks.json").write_text(json.dumps({"keys": [jwk]}, indent=2) + "\n")
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (keys / "bench.private.pem").write_bytes(pem)
    (keys / "bench.private.pem").chmod(0o600)
    _dump(
        config_dir / "deployment.yaml",
        "The benchmark's deployment (bench/auth.py): generated organisations, clients, a key.",
        {"name": "bench", "demo": True},
    )
    # The demo's referral checklists: the benchmark pushes handovers too.
    shutil.copy(DEMO_CONFIG / "pathways.yaml", config_dir / "pathways.yaml")
    roles = dict(HTTP_ORGANISATIONS)
    _dump(
        config_dir / "organisations.yaml",
        "The generated organisations, and the two that make the HTTP creates.",
        {
            "organisations": [
                {"ods": ods, "name": organisation_name(ods), "role": roles.get(ods, "trust")}
                for ods in organisation_codes()
            ]
        },
    )
    _dump(
        config_dir / "clients.yaml",
        "One client per organisation, all with the key in keys/bench.jwks.json.",
        {
            "clients": [
                {
                    "client_id": client_id(ods),
                    "organisation": ods,
                    "purpose_of_use": "direct-care",
                    "jwks_file": "keys/bench.jwks.json",
                    "scopes": [*SCOPES, *DATASET_SCOPES],
                }
                for ods in organisation_codes()
            ]
            + (
                [
                    {
                        "client_id": IG_LEAD,
                        "organisation": IG_LEAD_ODS,
                        "role": "ig-lead",
                        "purpose_of_use": "direct-care",
                        "jwks_file": "keys/bench.jwks.json",
                        "scopes": list(IG_SCOPES),
                    }
                ]
                if ig_lead
                else []
            )
        },
    )
    write_agreement(config_dir)
    return BenchAuth(
        directory,
        config_dir,
        directory / "token-signing-key.pem",
        private_key,
        directory / "audit-signing-key.pem",
    )


def write_agreement(config_dir: Path) -> Path:
    """agreements/dsa-bench-region.yaml: every organisation with a client shares with every
    other, for direct care, in force from well before the loaded timeline, open-ended."""
    roles = dict(HTTP_ORGANISATIONS)
    path = config_dir / "agreements" / "dsa-bench-region.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    _dump(
        path,
        "The benchmark's data-sharing agreement (bench/auth.py): every organisation shares "
        "with every other for direct care.",
        {
            "id": AGREEMENT_ID,
            "version": "1",
            "title": "Benchmark region: mental-health referral and crisis pathway",
            "status": "active",
            "parties": [
                {"ods": ods, "role": roles.get(ods, "trust")} for ods in organisation_codes()
            ],
            "purposes": list(AGREEMENT_PURPOSES),
            "data_categories": list(AGREEMENT_CATEGORIES),
            "legal_basis": (
                "UK GDPR Article 6(1)(e) and Article 9(2)(h); implied consent for "
                "individual care (benchmark data only)."
            ),
            "valid_from": "2020-01-01",
            "contacts": [
                {
                    "name": "Benchmark IG lead",
                    "role": "Information governance lead",
                    "organisation": "RZZ",
                }
            ],
        },
    )
    return path


def _dump(path: Path, comment: str, data: dict[str, Any]) -> None:
    path.write_text(f"# {comment}\n" + yaml.safe_dump(data, sort_keys=False))


class TokenSource:
    """Access tokens from one running server, one per organisation's client, each reused
    until it has less than the asked-for time left."""

    def __init__(self, base: str, auth: BenchAuth) -> None:
        self._token_url = f"{base}/oauth2/token"
        self._auth = auth
        self._tokens: dict[str, tuple[str, float]] = {}  # client id: token, expiry (monotonic)
        self.fetched = 0

    def token(self, ods: str, *, valid_for: float = 60.0) -> str:
        """A token for the organisation's client that stays valid `valid_for` seconds."""
        return self.client_token(client_id(ods), SCOPES, valid_for=valid_for)

    def client_token(self, client: str, scopes: Sequence[str], *, valid_for: float = 60.0) -> str:
        """A token for the client (by id), asking for `scopes`."""
        cached = self._tokens.get(client)
        if cached is not None and cached[1] - time.monotonic() >= valid_for:
            return cached[0]
        token, expires = self._fetch(client, scopes)
        if expires - time.monotonic() < valid_for:
            raise RuntimeError(
                f"an access token lives {TOKEN_LIFETIME_SECONDS} s at most: a measurement "
                f"needing one for {valid_for:.0f} s must be shorter"
            )
        self._tokens[client] = (token, expires)
        return token

    def headers(self, ods: str, *, valid_for: float = 60.0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(ods, valid_for=valid_for)}"}

    def bearer(self, ods: str) -> Callable[[float], str]:
        """The Authorization header value for the organisation's client, given how long
        the token must stay valid (for the create load generators)."""
        return lambda valid_for: f"Bearer {self.token(ods, valid_for=valid_for)}"

    def _fetch(self, client: str, scopes: Sequence[str]) -> tuple[str, float]:
        asked = time.monotonic()
        assertion = client_assertion(
            client, self._token_url, self._auth.private_key, kid=KID, algorithm=ALGORITHM
        )
        response = httpx.post(
            self._token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
                "scope": " ".join(scopes),
            },
            timeout=30,
        )
        if response.status_code != 200:
            raise RuntimeError(
                f"{self._token_url} refused a token to {client} "
                f"({response.status_code}): {response.text}"
            )
        answer = response.json()
        self.fetched += 1
        return str(answer["access_token"]), asked + float(answer["expires_in"])
