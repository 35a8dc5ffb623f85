"""`gateway outbox list | retry | discard`, on both databases: what each does to the
outbox, and that each is in the access log."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from gateway.commands.outbox import outbox_command
from gateway.exchange.deliveries import DeliveryState
from gateway.exchange.outbox import OutboxStore
from gateway.platform.database import Database
from gateway.platform.schema import audit_events
from gateway.platform.settings import Settings
from tests.exchange.test_outbox import LEASE, NOW, delivery
from tests.servers import GATEWAY, gateway_env


def dead_letter(database: Database, delivery_id: str) -> None:
    with database.write() as connection:
        store = OutboxStore(connection)
        store.enqueue(delivery(delivery_id), NOW)
        store.claim("w1", NOW, LEASE, 10, exclude=set())
        store.finish(delivery_id, "w1", DeliveryState.DEAD, NOW, error="HTTP 400 (invalid)")


def outbox_audits(database: Database) -> int:
    with database.read() as connection:
        contents = connection.execute(select(audit_events.c.content)).scalars().all()
    return sum(b'"outbox-command"' in content for content in contents)


def test_an_operator_requeues_a_dead_letter_and_it_is_audited(
    settings: Settings, database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    dead_letter(database, "d-1")
    assert outbox_command(settings, "list") == 0
    assert "d-1" in capsys.readouterr().out
    assert outbox_command(settings, "retry", delivery_id="d-1") == 0
    with database.read() as connection:
        found = OutboxStore(connection).get("d-1")
    assert found is not None
    assert (found.state, found.attempts) == (DeliveryState.QUEUED, 0)
    assert outbox_command(settings, "retry", delivery_id="no-such") == 1
    assert outbox_audits(database) == 2


def test_an_operator_discards_a_waiting_delivery_with_a_reason(
    settings: Settings, database: Database
) -> None:
    with database.write() as connection:
        OutboxStore(connection).enqueue(delivery("d-2"), datetime.now(UTC))
    assert outbox_command(settings, "discard", delivery_id="d-2", reason="sent by phone") == 0
    with database.read() as connection:
        found = OutboxStore(connection).get("d-2")
    assert found is not None
    assert (found.state, found.last_error) == (
        DeliveryState.DEAD,
        "discarded by an operator: sent by phone",
    )
    assert outbox_audits(database) == 1


def test_the_command_line_lists_the_outbox(database: Database, database_url: str) -> None:
    dead_letter(database, "d-3")
    result = subprocess.run(
        [*GATEWAY, "outbox", "list", "--state", "dead"],
        env=gateway_env(database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "d-3" in result.stdout
    assert "HTTP 400 (invalid)" in result.stdout
