"""Migration 0009 establishes every stored record's person by today's rules, on SQLite
and on PostgreSQL: a record that named its person by a reference to a Patient stored
here becomes that person's (and is found by their NHS number); one that named nobody the
gateway can be sure of gets no person, so it is never shared. PostgreSQL's columns widen
to hold a local identifier, and narrow again on the way down."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from gateway.platform import migrate
from gateway.platform.database import Database
from tests.builders import NHS, PATIENT_NHS_NUMBER, nhs_identifier, ods_reference, service_request
from tests.conftest import _postgres_admin_url

WHEN = "2026-11-20 10:00:00.000000"
LOCAL = "https://example-recovery.example.org/Id/client-number|C-000417"


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of each kind, not yet migrated."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield database
        database.dispose()
        return
    admin = make_url(_postgres_admin_url()).set(drivername="postgresql")
    conninfo = admin.render_as_string(hide_password=False)
    name = f"gwmig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    database = Database(admin.set(database=name).render_as_string(hide_password=False))
    try:
        yield database
    finally:
        database.dispose()
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(database: Database, revision: str, *, down: bool = False) -> None:
    config = migrate._config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _store(
    database: Database,
    resource_type: str,
    resource_id: str,
    body: dict[str, Any],
    *,
    patient: str | None,
    origin: str,
    parties: tuple[str, ...] = (),
) -> None:
    """A record as revision 0008 stored it (current version, its history, its parties)."""
    content = json.dumps({"resourceType": resource_type, "id": resource_id, **body})
    facts = {"t": resource_type, "i": resource_id, "c": content, "p": patient, "o": origin}
    with database.write() as connection:
        connection.execute(
            text(
                "INSERT INTO resources (resource_type, id, version_id, last_updated, content, "
                f"patient, origin, data_category) VALUES (:t, :i, 1, '{WHEN}', :c, :p, :o, "
                "'referral')"
            ),
            facts,
        )
        connection.execute(
            text(
                "INSERT INTO resource_versions (resource_type, id, version_id, last_updated, "
                "method, content, patient, origin, data_category, parties) VALUES "
                f"(:t, :i, 1, '{WHEN}', 'create', :c, :p, :o, 'referral', '[]')"
            ),
            facts,
        )
        for ods in parties:
            connection.execute(
                text(
                    "INSERT INTO resource_parties (resource_type, resource_id, ods_code, basis) "
                    "VALUES (:t, :i, :ods, 'party')"
                ),
                {**facts, "ods": ods},
            )


def _patients(database: Database, table: str) -> dict[str, str | None]:
    with database.read() as connection:
        rows = connection.execute(text(f"SELECT id, patient FROM {table} ORDER BY id")).all()
    return {row.id: row.patient for row in rows}


def _patient_rows(database: Database, resource_id: str) -> set[tuple[str, str, str]]:
    with database.read() as connection:
        rows = connection.execute(
            text(
                "SELECT param, system, value FROM search_index WHERE resource_id = :i "
                "AND param LIKE :suffix"
            ),
            {"i": resource_id, "suffix": "%:identifier"},
        ).all()
    return {(row.param, row.system, row.value) for row in rows}


def _width(database: Database, table: str) -> int | None:
    with database.read() as connection:
        columns = inspect(connection).get_columns(table)
    (patient,) = [column for column in columns if column["name"] == "patient"]
    length: int | None = getattr(patient["type"], "length", None)
    return length


def test_every_record_is_established_by_the_rules_and_nothing_else_is_shared(
    fresh: Database,
) -> None:
    _migrate(fresh, "0008")
    person = {"identifier": [nhs_identifier()], "managingOrganization": ods_reference()}
    _store(
        fresh, "Patient", "p1", person, patient=PATIENT_NHS_NUMBER, origin="AZZ", parties=("AZZ",)
    )
    by_reference = service_request(subject={"reference": "Patient/p1"})
    _store(fresh, "ServiceRequest", "by-reference", by_reference, patient=None, origin="AZZ")
    # The Patient is AZZ's: a third organisation's reference to it never named it.
    _store(fresh, "ServiceRequest", "not-theirs", by_reference, patient=None, origin="AXX")
    misspelt = service_request(
        subject={
            "identifier": {"system": "http://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}
        }
    )
    _store(fresh, "ServiceRequest", "misspelt", misspelt, patient=None, origin="AZZ")
    _store(
        fresh,
        "ServiceRequest",
        "by-number",
        service_request(),
        patient=PATIENT_NHS_NUMBER,
        origin="AZZ",
    )
    nameless = {"status": "in-progress", "sender": ods_reference()}
    _store(fresh, "Communication", "nameless", nameless, patient=None, origin="AZZ")
    _store(
        fresh,
        "Provenance",
        "prov",
        {"recorded": "2026-11-20T10:00:00Z"},
        patient=None,
        origin="AZZ",
    )

    _migrate(fresh, "head")

    expected = {
        "by-number": PATIENT_NHS_NUMBER,
        "by-reference": PATIENT_NHS_NUMBER,
        "misspelt": None,
        "nameless": None,
        "not-theirs": None,
        "p1": PATIENT_NHS_NUMBER,
        "prov": None,
    }
    assert _patients(fresh, "resources") == expected
    assert _patients(fresh, "resource_versions") == expected
    assert _patient_rows(fresh, "by-reference") == {
        ("patient:identifier", NHS, PATIENT_NHS_NUMBER),
        ("subject:identifier", NHS, PATIENT_NHS_NUMBER),
    }
    assert _patient_rows(fresh, "not-theirs") == set()


def test_the_columns_hold_a_local_identifier_and_give_it_up_on_the_way_down(
    fresh: Database,
) -> None:
    _migrate(fresh, "head")
    _store(fresh, "ServiceRequest", "local", service_request(), patient=LOCAL, origin="AZZ")
    postgresql = fresh.engine.dialect.name == "postgresql"
    if postgresql:  # SQLite never enforces a VARCHAR length: its tables are left alone
        for table in ("resources", "resource_versions", "audit_events", "outbox"):
            assert _width(fresh, table) == 255
    assert _patients(fresh, "resources") == {"local": LOCAL}

    _migrate(fresh, "0008", down=True)

    assert _patients(fresh, "resources") == {"local": None}
    assert _patients(fresh, "resource_versions") == {"local": None}
    if postgresql:
        assert _width(fresh, "resources") == 16
