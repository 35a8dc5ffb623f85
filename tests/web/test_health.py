from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from gateway.platform import migrate
from gateway.platform.database import Database


def test_healthz_answers_while_the_process_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_and_migrations(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "migrations": "current",
        "access_log": "writable",
    }


def test_readyz_refuses_traffic_when_the_schema_is_not_the_one_the_code_needs(
    client: TestClient, database: Database
) -> None:
    head = migrate.HEAD
    with database.write() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'elsewhere'"))
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["migrations"] == "not current"
    finally:
        with database.write() as connection:
            connection.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )


def test_probes_by_head_are_answered_and_not_logged_as_refusals(
    client: TestClient, database: Database
) -> None:
    with database.read() as connection:
        before = connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    for path in ("/healthz", "/readyz"):
        response = client.head(path)
        assert response.status_code == 200
        assert response.content == b""
    with database.read() as connection:
        after = connection.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    assert after == before
