"""Migration 0004 gives resources stored before it the sharing facts a write now records,
so that nothing stored earlier is hidden (or shown) by mistake once enforcement is on."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from sqlalchemy import text

from gateway.platform import migrate
from gateway.platform.database import Database
from tests.builders import PATIENT_NHS_NUMBER, communication, flag, service_request


def _upgrade(database: Database, revision: str) -> None:
    config = migrate._config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_existing_resources_are_backfilled(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _upgrade(database, "0003")
        stored = {
            "sr": (
                "ServiceRequest",
                service_request(),
                [("AZZ", "requester"), ("RZZ", "performer")],
            ),
            "co": ("Communication", communication(), [("AZZ", "sender"), ("RZZ", "recipient")]),
            "fl": ("Flag", flag(), [("AZZ", "author")]),
        }
        with database.write() as connection:
            for resource_id, (resource_type, body, parties) in stored.items():
                connection.execute(
                    text(
                        "INSERT INTO resources (resource_type, id, version_id, last_updated, "
                        "content) VALUES (:t, :i, 1, '2026-11-20 10:00:00.000000', :c)"
                    ),
                    {"t": resource_type, "i": resource_id, "c": json.dumps(body)},
                )
                for code, basis in parties:
                    connection.execute(
                        text("INSERT INTO resource_parties VALUES (:t, :i, :o, :b)"),
                        {"t": resource_type, "i": resource_id, "o": code, "b": basis},
                    )
        _upgrade(database, "head")
        with database.read() as connection:
            rows = connection.execute(
                text("SELECT id, patient, origin, data_category FROM resources ORDER BY id")
            ).all()
        assert [tuple(row) for row in rows] == [
            ("co", PATIENT_NHS_NUMBER, "AZZ", "escalation"),
            ("fl", PATIENT_NHS_NUMBER, "AZZ", "risk-flag"),
            ("sr", PATIENT_NHS_NUMBER, "AZZ", "referral"),
        ]
    finally:
        database.dispose()
