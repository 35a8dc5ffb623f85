"""Migration 0008 gives every version stored before it its own sharing facts and parties,
recomputed from that version's content, so that vread and _history judge each version on
what it was (a version about another person, or addressed elsewhere, stays so)."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM
from gateway.platform import migrate
from gateway.platform.database import Database
from gateway.platform.schema import resource_versions
from tests.builders import OTHER_NHS_NUMBER, PATIENT_NHS_NUMBER, flag, nhs_identifier


def _upgrade(database: Database, revision: str) -> None:
    config = migrate._config()
    with database.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_each_version_gets_the_facts_and_parties_of_its_own_content(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        _upgrade(database, "0007")
        # v1 about one person, shared with nobody; v2 (by the old rules) about another,
        # addressed to RZZ through a literal reference to its Organization.
        recipient = {
            "url": "https://fhir.mh-gateway.example.org/StructureDefinition/recipient",
            "valueReference": {"reference": "Organization/rzz"},
        }
        first = flag()
        second = {**flag(), "subject": {"identifier": nhs_identifier(OTHER_NHS_NUMBER)}}
        second["extension"] = [recipient]
        with database.write() as connection:
            connection.execute(
                text(
                    "INSERT INTO resources (resource_type, id, version_id, last_updated, "
                    "content, patient, origin, data_category) VALUES "
                    "('Flag', 'f', 2, '2026-11-20 10:00:01.000000', :c, :p, 'AZZ', 'risk-flag')"
                ),
                {"c": json.dumps(second), "p": OTHER_NHS_NUMBER},
            )
            for version, body in ((1, first), (2, second)):
                connection.execute(
                    text(
                        "INSERT INTO resource_versions VALUES ('Flag', 'f', :v, "
                        "'2026-11-20 10:00:00.000000', 'create', :c)"
                    ),
                    {"v": version, "c": json.dumps(body)},
                )
            connection.execute(
                text(
                    "INSERT INTO search_index (resource_type, resource_id, param, system, "
                    "value, last_updated) VALUES ('Organization', 'rzz', 'identifier', :s, "
                    "'RZZ', '2026-11-20 10:00:00.000000')"
                ),
                {"s": ODS_ORGANISATION_SYSTEM},
            )
        _upgrade(database, "head")
        with database.read() as connection:
            rows = connection.execute(
                text(
                    "SELECT version_id, patient, origin, data_category, parties "
                    "FROM resource_versions ORDER BY version_id"
                )
            ).all()
            columns = {c["name"] for c in inspect(connection).get_columns("resource_versions")}
        assert [tuple(row[:4]) for row in rows] == [
            (1, PATIENT_NHS_NUMBER, "AZZ", "risk-flag"),
            (2, OTHER_NHS_NUMBER, "AZZ", "risk-flag"),
        ]
        assert json.loads(rows[0][4]) == [["AZZ", "author"]]
        assert json.loads(rows[1][4]) == [["AZZ", "author"], ["RZZ", "recipient"]]
        # The migrations build what gateway.platform.schema declares.
        assert columns == {column.name for column in resource_versions.columns}
    finally:
        database.dispose()
