"""Fixtures shared by the whole suite: a real store on SQLite and on PostgreSQL, and a
real application (lifespan included) in front of it.

PostgreSQL: each run creates its own database (gwtest_<random>) next to the one named by
GATEWAY_TEST_POSTGRES_URL and drops it afterwards, so runs never see each other's data.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.schema import metadata
from gateway.platform.settings import Settings
from tests.fhir_judge import assert_valid_fhir
from tests.paths import REPO
from tests.tokens import (
    IG_LEAD,
    PROVIDER,
    TEST_KEYS,
    THIRD_IG_LEAD,
    THIRD_ODS,
    THIRD_PROVIDER,
    TRUST,
    access_token,
    bearer,
)

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEMO_CONFIG = REPO / "config" / "demo"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported by now lives as long as the run: frozen, the collector no longer
    walks it at each full collection (the serving processes do the same, gateway.platform.heap)."""
    gc.collect()
    gc.freeze()


def _postgres_admin_url() -> str:
    return os.environ.get("GATEWAY_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    admin = make_url(_postgres_admin_url()).set(drivername="postgresql")
    name = f"gwtest_{uuid.uuid4().hex[:12]}"
    conninfo = admin.render_as_string(hide_password=False)
    try:
        connection = psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        pytest.fail(
            "PostgreSQL is not reachable at "
            f"{admin.render_as_string(hide_password=True)}. The store tests run against "
            "PostgreSQL as well as SQLite: start one, or point GATEWAY_TEST_POSTGRES_URL at "
            "a server where this user may CREATE DATABASE "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test).",
            pytrace=False,
        )
    with connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'gateway.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that uses the store runs once per database."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    database = Database(url)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated, empty store."""
    with emptied(database_url) as db:
        yield db


@contextlib.contextmanager
def emptied(database_url: str) -> Iterator[Database]:
    """The store at `database_url` with every row deleted."""
    db = Database(database_url)
    with db.write() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(scope="session")
def signing_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway's token-signing key for the run (generated on first start, as in dev)."""
    return tmp_path_factory.mktemp("keys") / "token-signing-key.pem"


@pytest.fixture(scope="session")
def audit_key_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The access log's checkpoint key for the run (generated on first start, as in dev)."""
    return tmp_path_factory.mktemp("audit-keys") / "audit-signing-key.pem"


# Trusts the suite's requests name besides the demo's own, with an agreement like the
# demo's so that the provider may share with them (access control is tested on them).
OTHER_TRUSTS = ("R1A", "RXX")


@pytest.fixture(scope="session")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo configuration, plus two more Trusts the provider has an agreement with,
    and a third organisation (AXX) with its own agreement with the Trust."""
    directory = tmp_path_factory.mktemp("config") / "test"
    shutil.copytree(DEMO_CONFIG, directory)
    with (directory / "organisations.yaml").open("a", encoding="utf-8") as organisations:
        for code in OTHER_TRUSTS:
            organisations.write(f"  - {{ods: {code}, name: Test Trust {code}, role: trust}}\n")
    agreement = (DEMO_CONFIG / "agreements" / "dsa-north-crisis-pathway.yaml").read_text()
    others = agreement.replace("id: DSA-DEMO-NORTH-001", "id: DSA-TEST-OTHER-TRUSTS")
    others = others.replace(
        "  - {ods: RZZ, role: NHS Trust (data controller)}",
        "".join(f"  - {{ods: {code}, role: NHS Trust}}\n" for code in OTHER_TRUSTS).rstrip(),
    )
    (directory / "agreements" / "test-other-trusts.yaml").write_text(others)
    add_third_organisation(directory, agreement)
    return directory


def add_third_organisation(directory: Path, agreement: str) -> None:
    """AXX: a provider with its own agreement with the Trust (none with AZZ), whose EPR
    is registered with broad scopes and an IG lead of its own: what a third organisation
    could try is what tests/security tries."""
    with (directory / "organisations.yaml").open("a", encoding="utf-8") as organisations:
        organisations.write(
            f"  - {{ods: {THIRD_ODS}, name: Test Third Provider, role: provider, "
            "locality: north}\n"
        )
    third = agreement.replace("id: DSA-DEMO-NORTH-001", "id: DSA-TEST-THIRD-PROVIDER")
    third = third.replace("{ods: AZZ, role: provider", f"{{ods: {THIRD_ODS}, role: provider")
    (directory / "agreements" / "test-third-provider.yaml").write_text(third)
    for client_id in (THIRD_PROVIDER, THIRD_IG_LEAD):
        shutil.copy(TEST_KEYS / f"{client_id}.jwks.json", directory / "keys")
    with (directory / "clients.yaml").open("a", encoding="utf-8") as clients:
        clients.write(
            f"  - client_id: {THIRD_PROVIDER}\n"
            f"    organisation: {THIRD_ODS}\n"
            "    role: provider-epr\n"
            "    purpose_of_use: direct-care\n"
            "    other_purposes_of_use: [safeguarding, ETREAT, BTG]\n"
            f"    jwks_file: keys/{THIRD_PROVIDER}.jwks.json\n"
            "    scopes: [system/*.cruds]\n"
            f"  - client_id: {THIRD_IG_LEAD}\n"
            f"    organisation: {THIRD_ODS}\n"
            "    role: ig-lead\n"
            f"    jwks_file: keys/{THIRD_IG_LEAD}.jwks.json\n"
            "    scopes: [system/AuditEvent.rs]\n"
        )


@pytest.fixture
def settings(
    database: Database,
    database_url: str,
    signing_key_path: Path,
    audit_key_path: Path,
    config_dir: Path,
) -> Settings:
    """The settings of the application on an emptied `database`."""
    return settings_for(database_url, signing_key_path, audit_key_path, config_dir)


@functools.cache
def settings_for(
    database_url: str, signing_key_path: Path, audit_key_path: Path, config_dir: Path
) -> Settings:
    # The same values for every test on one database, read once: pydantic-settings reads
    # the environment and .env files at each construction. (Tests change a copy:
    # settings.model_copy.)
    return Settings(
        database_url=database_url,
        config_dir=config_dir,
        env="dev",
        token_signing_key=signing_key_path,
        audit_signing_key=audit_key_path,
        # Tests make requests in quick bursts; the limit itself is tested on its own.
        rate_limit_per_second=10_000,
        rate_limit_burst=10_000,
        anonymous_rate_limit_per_second=10_000,
        anonymous_rate_limit_burst=10_000,
        token_rate_limit_per_second=10_000,
        token_rate_limit_burst=10_000,
    )


def _judge_fhir_responses(response: httpx.Response) -> None:
    if response.headers.get("content-type", "").startswith("application/fhir+json"):
        response.read()
        assert_valid_fhir(response.json())


_APPS: dict[str, FastAPI] = {}


def _app_for(settings: Settings) -> FastAPI:
    """One application per settings value in each test process. Every test still starts
    it afresh (its lifespan builds the runtime, loads the configuration into the emptied
    store and runs the background tasks, and stopping ends them all: nothing of one test's
    run is kept); what is built once is the routing, which FastAPI works out again for
    every new application (a tenth of the in-process tests' time)."""
    key = settings.model_dump_json()
    if key not in _APPS:
        _APPS[key] = create_app(settings)
    return _APPS[key]


@pytest.fixture
def anonymous(settings: Settings) -> Iterator[TestClient]:
    """The real application with no credentials; every FHIR body it returns is judged
    against HL7's schema."""
    with started(settings) as test:
        yield test


@contextlib.contextmanager
def started(settings: Settings) -> Iterator[TestClient]:
    """The application for `settings`, started (and stopped at the end)."""
    app = _app_for(settings)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as test:
        test.event_hooks = {"request": [], "response": [_judge_fhir_responses]}
        yield test


@pytest.fixture
def client(anonymous: TestClient) -> TestClient:
    """The real application, called as the demo provider's EPR (AZZ) with a token from
    /oauth2/token for every scope that client is allowed."""
    anonymous.headers["Authorization"] = f"Bearer {access_token(anonymous, PROVIDER)}"
    return anonymous


@pytest.fixture
def ig_token(anonymous: TestClient) -> dict[str, str]:
    """Authorization headers for the demo IG lead (RZZ), whose only scope is the log's."""
    return bearer(access_token(anonymous, IG_LEAD, "system/AuditEvent.rs"))


@pytest.fixture
def trust_token(anonymous: TestClient) -> dict[str, str]:
    """Authorization headers for the demo Trust's crisis system (RZZ)."""
    return bearer(access_token(anonymous, TRUST))


@pytest.fixture
def third_token(anonymous: TestClient) -> dict[str, str]:
    """Authorization headers for the third organisation's EPR (AXX), with every scope
    its broad registration allows."""
    return bearer(access_token(anonymous, THIRD_PROVIDER))


@pytest.fixture
def third_ig_token(anonymous: TestClient) -> dict[str, str]:
    """Authorization headers for the third organisation's IG lead (AXX)."""
    return bearer(access_token(anonymous, THIRD_IG_LEAD, "system/AuditEvent.rs"))


@pytest.fixture
def withholding(settings: Settings, tmp_path: Path) -> Iterator[TestClient]:
    """The application with the demo agreement saying: share without free text."""
    config = tmp_path / "config"
    shutil.copytree(settings.config_dir, config)
    agreement = config / "agreements" / "dsa-north-crisis-pathway.yaml"
    agreement.write_text(agreement.read_text() + "withhold_free_text: true\n")
    app = create_app(settings.model_copy(update={"config_dir": config}))
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as test:
        yield test
