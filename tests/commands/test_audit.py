"""`gateway audit checkpoint | verify | export` as an operator runs them, against a store
a real server wrote, and the export verified by the standalone verifier in a separate
interpreter, as it would be on another machine."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, select, update

from gateway.platform.database import Database
from gateway.platform.schema import audit_checkpoints, audit_events
from tests.access_log.events import append
from tests.builders import service_request
from tests.commands.test_cli import FHIR
from tests.servers import (
    GATEWAY,
    gateway_env,
    gateway_in_process,
    refused_from_addresses_of_their_own,
    running_server,
    served_token,
)


def _gateway(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GATEWAY, "audit", *args],
        env=gateway_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _in_process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The first test runs checkpoint, verify and export as processes, and the archive test
    # its archive; the rest run them in this process (tests.servers.gateway_in_process).
    return gateway_in_process(database_url, "audit", *args)


def _standalone(directory: Path) -> subprocess.CompletedProcess[str]:
    # -I: no PYTHONPATH, no current directory on the path, no user site.
    return subprocess.run(
        [sys.executable, "-I", "-m", "gateway.access_log.verify", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def audited_store(database: Database, database_url: str) -> str:
    """A store with a real server's access log in it: tokens, writes, reads, refusals."""
    with running_server(database_url) as base:
        token = served_token(base)
        with httpx.Client(base_url=base, timeout=10) as http:
            for _ in range(3):
                created = http.post(
                    "/fhir/ServiceRequest", json=service_request(), headers=FHIR | token
                )
                assert created.status_code == 201
                http.get(f"/fhir/ServiceRequest/{created.json()['id']}", headers=token)
            assert http.get("/fhir/ServiceRequest/missing", headers=token).status_code == 404
            assert http.get("/fhir/ServiceRequest").status_code == 401
    return database_url


def test_checkpoint_verify_and_export_then_verify_elsewhere(
    audited_store: str, database: Database, tmp_path: Path
) -> None:
    checkpoint = _gateway(audited_store, "checkpoint")
    assert checkpoint.returncode == 0, checkpoint.stderr
    verified = _gateway(audited_store, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit log verified" in verified.stdout
    assert "0 events not yet in a checkpoint" in verified.stdout

    export = tmp_path / "export"
    exported = _gateway(audited_store, "export", str(export))
    assert exported.returncode == 0, exported.stderr
    assert sorted(path.name for path in export.iterdir()) == [
        "checkpoints.ndjson",
        "events.ndjson",
        "manifest.json",
        "public-keys.pem",
    ]
    assert (export / "events.ndjson").stat().st_mode & 0o077 == 0  # it names patients
    elsewhere = _standalone(export)
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr

    # The export was itself audited (after it was taken, so not in it).
    with database.read() as connection:
        subtypes = connection.execute(select(audit_events.c.subtype)).scalars().all()
    assert "audit-export" in subtypes
    again = _gateway(audited_store, "export", str(export))
    assert again.returncode == 2
    assert "not empty" in again.stderr


def test_an_edited_event_is_found_in_the_store_and_in_an_export(
    audited_store: str, database: Database, tmp_path: Path
) -> None:
    assert _in_process(audited_store, "checkpoint").returncode == 0
    export = tmp_path / "export"
    assert _in_process(audited_store, "export", str(export)).returncode == 0

    with database.write() as connection:
        content = connection.execute(
            select(audit_events.c.content).where(audit_events.c.position == 4)
        ).scalar_one()
        edited = bytes(content).replace(b'"outcome":"0"', b'"outcome":"4"')
        assert edited != bytes(content)
        connection.execute(
            update(audit_events).where(audit_events.c.position == 4).values(content=edited)
        )
    failed = _in_process(audited_store, "verify")
    assert failed.returncode == 1
    assert "position 4" in failed.stderr

    lines = (export / "events.ndjson").read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"action":"', b'"action":"X', 1)
    (export / "events.ndjson").write_bytes(b"\n".join(lines))
    elsewhere = _standalone(export)
    assert elsewhere.returncode == 1
    assert "position" in elsewhere.stdout + elsewhere.stderr


def test_archive_then_verify_what_remains_and_what_left(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    with running_server(database_url) as base:
        # Refused without a token: one event apiece.
        assert refused_from_addresses_of_their_own(base, 300) == [401] * 300
    assert _in_process(database_url, "checkpoint").returncode == 0
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")

    archived = _gateway(database_url, "archive", "--before", tomorrow, str(tmp_path / "old"))
    assert archived.returncode == 0, archived.stderr
    assert "archived positions 0.." in archived.stdout
    remaining = _in_process(database_url, "verify")
    assert remaining.returncode == 0, remaining.stderr
    assert _standalone(tmp_path / "old").returncode == 0
    # What remains exports and verifies on its own too, from the boundary's frontier.
    assert _in_process(database_url, "export", str(tmp_path / "rest")).returncode == 0
    assert _standalone(tmp_path / "rest").returncode == 0
    bad = _in_process(database_url, "archive", "--before", "last week", str(tmp_path / "x"))
    assert bad.returncode == 2


def test_a_checkpoint_deleted_from_the_middle_is_named(
    audited_store: str, database: Database
) -> None:
    """Each checkpoint commits to the one before it (its size and the hash of its signed
    note), so a checkpoint deleted between two others breaks the next one's link."""
    for _ in range(3):
        with running_server(audited_store) as base, httpx.Client(base_url=base) as http:
            assert http.get("/fhir/ServiceRequest").status_code == 401
        assert _in_process(audited_store, "checkpoint").returncode == 0
    with database.read() as connection:
        sizes = (
            connection.execute(
                select(audit_checkpoints.c.tree_size).order_by(audit_checkpoints.c.tree_size)
            )
            .scalars()
            .all()
        )
    assert len(sizes) >= 3
    assert _in_process(audited_store, "verify").returncode == 0
    before, middle, after = sizes[-3:]
    with database.write() as connection:
        connection.execute(delete(audit_checkpoints).where(audit_checkpoints.c.tree_size == middle))
    failed = _in_process(audited_store, "verify")
    assert failed.returncode == 1
    assert f"FAILED verification at position {before}" in failed.stderr
    assert f"checkpoint of size {after} links to a checkpoint of size {middle}" in failed.stderr


def test_verify_reports_the_events_waiting_to_be_sequenced_without_failing(
    database: Database, database_url: str
) -> None:
    recorded = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with database.write() as connection:
        append(connection, 3, recorded=recorded)
        append(connection, 2, start=3, recorded=recorded + timedelta(minutes=5))
    verified = _in_process(database_url, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "5 events waiting to be sequenced, the oldest recorded " in verified.stdout
    # Aged from the oldest one's time by the wall clock (tests/access_log/test_derivation.py
    # checks the arithmetic with a clock of its own).
    age = verified.stdout.split("the oldest recorded ")[1].split(" s ago")[0]
    assert int(age) > 0
