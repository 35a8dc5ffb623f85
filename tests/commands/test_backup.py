"""The restore drill, on both databases: a real `gateway serve` writes handovers (delivered
to a loopback Trust that fails at first), FHIR creates and an update; the store is backed
up while the server serves and is being written to (SQLite: `gateway backup`; PostgreSQL:
pg_dump, as docs/operations.md tells operators), restored into a new database, and then
`gateway audit verify` must pass on the restored store and every record version and
delivery written before the backup must be there. And `gateway backup`'s refusals."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from gateway.exchange.deliveries import DeliveryState
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, outbox, resource_versions
from tests.builders import service_request
from tests.commands.test_cli import FHIR
from tests.conftest import _postgres_admin_url
from tests.exchange.support import handover, push_config
from tests.exchange.test_end_to_end import NHS_NUMBERS, wait_for
from tests.exchange.trust import TrustBehaviour, running_trust
from tests.servers import GATEWAY, gateway_env, gateway_in_process, running_server, served_token

PG_DUMP = shutil.which("pg_dump") or "/usr/bin/pg_dump"
PG_RESTORE = shutil.which("pg_restore") or "/usr/bin/pg_restore"


def _contents(database: Database) -> tuple[set[tuple[str, str, int]], dict[str, str]]:
    """Every record version (type, id, version) and every delivery's state, by id."""
    with database.read() as connection:
        versions = {
            (row.resource_type, row.id, row.version_id)
            for row in connection.execute(
                select(
                    resource_versions.c.resource_type,
                    resource_versions.c.id,
                    resource_versions.c.version_id,
                )
            )
        }
        deliveries = {
            row.id: row.state for row in connection.execute(select(outbox.c.id, outbox.c.state))
        }
    return versions, deliveries


@contextmanager
def _writing_meanwhile(base: str, token: dict[str, str]) -> Iterator[list[int]]:
    """FHIR creates sent one after another until the block ends: the backup is taken
    while the server is being written to. Yields the statuses, filled in as they come."""
    statuses: list[int] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while not stop.is_set():
                sent = http.post(
                    "/fhir/ServiceRequest",
                    json=service_request(NHS_NUMBERS[len(statuses) % len(NHS_NUMBERS)]),
                    headers=FHIR | token,
                )
                statuses.append(sent.status_code)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(statuses) >= 2, 30)
        yield statuses
    finally:
        stop.set()
        thread.join(timeout=60)


@contextmanager
def _new_postgresql_database() -> Iterator[str]:
    admin = make_url(_postgres_admin_url()).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    name = f"gwrestore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _sqlite_backup(database_url: str, directory: Path) -> Path:
    """`gateway backup` as an operator runs it; the copy checked against its manifest."""
    made = _run(*GATEWAY, "backup", str(directory), env=gateway_env(database_url))
    assert made.returncode == 0, made.stderr
    assert "backed up the store to" in made.stdout
    for patient in NHS_NUMBERS:
        assert patient not in made.stdout + made.stderr
    (manifest_path,) = directory.glob("gateway-*.json")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    copy = directory / manifest["file"]
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == manifest["sha256"]
    assert manifest["schema_revision"] == manifest["gateway_schema_head"]
    assert manifest["database"] == "sqlite"
    assert manifest["rows"]["resource_versions"] > 0
    assert copy.stat().st_mode & 0o077 == 0
    # A restore is a copy of the file to where GATEWAY_DATABASE_URL points.
    restored = directory.parent / "restored" / "gateway.db"
    restored.parent.mkdir()
    shutil.copyfile(copy, restored)
    return restored


def test_a_store_a_server_wrote_is_backed_up_while_it_serves_and_restores_whole(
    database: Database, database_url: str, config_dir: Path, tmp_path: Path
) -> None:
    with (
        ExitStack() as cleanup,
        running_trust(TrustBehaviour(fail_first=1, retry_after="0")) as trust,
    ):
        config = push_config(config_dir, tmp_path / "config", trust.base_url, base_seconds=0.05)
        with running_server(database_url, GATEWAY_CONFIG_DIR=str(config)) as base:
            token = served_token(base, config_dir=config)
            with httpx.Client(base_url=base, timeout=30) as http:
                pushed = []
                for n in range(3):
                    answer = http.post(
                        "/api/handovers",
                        content=json.dumps(handover(f"DRILL-{n}", NHS_NUMBERS[n])),
                        headers=token | {"Content-Type": "application/json"},
                    )
                    assert answer.status_code == 201, answer.text
                    pushed.append(answer.json()["id"])
                created = http.post(
                    "/fhir/ServiceRequest", json=service_request(), headers=FHIR | token
                )
                assert created.status_code == 201, created.text
                changed = created.json() | {"status": "on-hold"}
                updated = http.put(
                    f"/fhir/ServiceRequest/{changed['id']}",
                    json=changed,
                    headers=FHIR | token | {"If-Match": 'W/"1"'},
                )
                assert updated.status_code == 200, updated.text
            assert wait_for(
                lambda: (
                    len(_contents(database)[1]) == 3
                    and set(_contents(database)[1].values()) == {DeliveryState.DELIVERED}
                ),
                60,
            ), _contents(database)[1]
            before_versions, before_deliveries = _contents(database)
            with _writing_meanwhile(base, token) as statuses:
                if database.dialect == "sqlite":
                    restored_url = f"sqlite:///{_sqlite_backup(database_url, tmp_path / 'backups')}"
                else:
                    dump = tmp_path / "gateway.dump"
                    dumped = _run(
                        PG_DUMP, "--format=custom", "--file", str(dump), "--dbname", database_url
                    )
                    assert dumped.returncode == 0, dumped.stderr
                    restored_url = cleanup.enter_context(_new_postgresql_database())
        if database.dialect == "postgresql":
            loaded = _run(
                PG_RESTORE, "--no-owner", "--exit-on-error", "--dbname", restored_url, str(dump)
            )
            assert loaded.returncode == 0, loaded.stderr
        assert set(statuses) == {201}
        _check_restored(restored_url, before_versions, before_deliveries, pushed, changed["id"])
        assert sorted(trust.stored) == sorted(before_deliveries)


def _check_restored(
    restored_url: str,
    versions: set[tuple[str, str, int]],
    deliveries: dict[str, str],
    pushed: list[str],
    updated_id: str,
) -> None:
    current = gateway_in_process(restored_url, "db", "current")
    assert current.returncode == 0, current.stdout + current.stderr
    verified = gateway_in_process(restored_url, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit log verified" in verified.stdout
    restored = Database(restored_url)
    try:
        restored_versions, restored_deliveries = _contents(restored)
    finally:
        restored.dispose()
    # Everything written before the backup began, each version of each record, and each
    # delivery in the state it had; what the writes during the backup added may be there.
    assert versions <= restored_versions
    assert {id_ for (kind, id_, _) in restored_versions if kind == "ServiceRequest"} >= {
        *pushed,
        updated_id,
    }
    assert ("ServiceRequest", updated_id, 2) in restored_versions
    assert restored_deliveries == deliveries


def test_backup_refuses_postgresql_with_the_documented_procedure(tmp_path: Path) -> None:
    refused = gateway_in_process(
        "postgresql://postgres@127.0.0.1:5432/test", "backup", str(tmp_path / "backups")
    )
    assert refused.returncode == 2
    assert "pg_dump" in refused.stderr
    assert "docs/operations.md" in refused.stderr
    assert not (tmp_path / "backups").exists()


def test_backup_refuses_a_store_that_is_not_there(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    refused = gateway_in_process(f"sqlite:///{missing}", "backup", str(tmp_path / "backups"))
    assert refused.returncode == 2
    assert "there is no SQLite store" in refused.stderr
    assert not missing.exists()
    assert not (tmp_path / "backups").exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_backups_in_one_second_are_both_kept(database_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    for _ in range(2):
        made = gateway_in_process(database_url, "backup", str(directory))
        assert made.returncode == 0, made.stderr
    assert len(list(directory.glob("gateway-*.db"))) == 2
    assert len(list(directory.glob("gateway-*.json"))) == 2
    assert not list(directory.glob(".*partial"))
    # Each copy of every patient's records is itself in the access log.
    store = Database(database_url)
    try:
        with store.read() as connection:
            subtypes = connection.execute(select(audit_events.c.subtype)).scalars().all()
    finally:
        store.dispose()
    assert subtypes.count("store-backup") >= 2
