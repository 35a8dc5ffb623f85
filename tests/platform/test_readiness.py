"""/readyz of a real server says not ready while the access log cannot be written (a
request that cannot be logged fails closed, so such a server serves nothing): its table
locked by someone else, or the gateway's database role no longer allowed to insert."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from gateway.platform.database import Database
from tests.faults import FAULT_SETTINGS
from tests.servers import running_server


@pytest.fixture
def gateway_role(postgres: Database, postgresql_url: str) -> Iterator[str]:
    """A database URL for a role of the gateway's own (not a superuser, whom no REVOKE
    binds), allowed everything on the gateway's tables."""
    role = f"gwtest_role_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgresql_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        admin.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    try:
        yield make_url(postgresql_url).set(username=role).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(postgresql_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_readyz_is_503_while_the_access_log_cannot_be_inserted_into(
    gateway_role: str, postgresql_url: str
) -> None:
    with running_server(gateway_role, **FAULT_SETTINGS) as base, httpx.Client() as http:
        assert http.get(f"{base}/readyz").json()["access_log"] == "writable"
        with psycopg.connect(postgresql_url, autocommit=True) as admin:
            admin.execute(f"REVOKE INSERT ON audit_events FROM {make_url(gateway_role).username}")
        response = http.get(f"{base}/readyz")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "database": "ok",
            "migrations": "current",
            "access_log": "not writable",
        }


def test_readyz_is_503_while_the_access_log_is_locked_and_ready_again_after(
    postgres: Database, postgresql_url: str
) -> None:
    with running_server(postgresql_url, **FAULT_SETTINGS) as base, httpx.Client() as http:
        with psycopg.connect(postgresql_url) as locker:
            locker.execute("LOCK TABLE audit_events IN SHARE MODE")
            response = http.get(f"{base}/readyz", timeout=10)
            assert response.status_code == 503
            assert response.json()["access_log"] == "not writable"
            locker.rollback()
        assert http.get(f"{base}/readyz").status_code == 200
