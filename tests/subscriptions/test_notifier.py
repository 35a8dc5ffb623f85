"""What a write queues for Subscriptions, in its own transaction (both databases): one
notification per matching active Subscription whose organisation could read the version
written, id-only or carrying the resource as that organisation is shown it; again for
each new version, the gateway's own writes included; and nothing for a Subscription
that is off, has ended, whose client is gone, or whose organisation has no agreement
covering the record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.search.query import PagingLimits
from gateway.configuration.loader import load_config
from gateway.configuration.models import GatewayConfig
from gateway.exchange.deliveries import DeliveryState
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.platform.database import Database
from gateway.platform.schema import outbox, resources
from gateway.platform.settings import Settings
from gateway.subscriptions.notifier import SubscriptionNotifier
from tests.handovers.test_routes import example
from tests.subscriptions.support import (
    HOOKS,
    JSON,
    ODS,
    escalate,
    gateway,
    notifications,
    notifying_config,
    respond,
    subscribe,
    subscription,
    trust,
)

FULL = "application/fhir+json"
DATA_CATEGORY = "https://fhir.mh-gateway.example.org/CodeSystem/data-category"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
LIMITS = PagingLimits(20, 100)


def _subscribed(client: TestClient, **options: Any) -> dict[str, Any]:
    created = subscribe(client, subscription(**options), trust(client))
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def test_a_new_escalation_queues_an_empty_notification_and_one_carrying_it(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with gateway(settings, notifying_config(config_dir, tmp_path / "config")) as client:
        empty = _subscribed(client, headers=("X-Hook-Key: k-1",))
        full = _subscribed(client, payload=FULL)
        created = escalate(client)
        communication = client.get(f"/fhir/{created['resources']['Communication']}").text
    reference = created["resources"]["Communication"]
    by_subscription = {n.subscription_id: n for n in notifications(database)}
    assert set(by_subscription) == {empty["id"], full["id"]}
    for notification in by_subscription.values():
        assert notification.state == DeliveryState.QUEUED
        assert notification.destination == "RZZ"
        assert notification.patient == "9434765919"  # ordered with what else RZZ is sent
        assert notification.resource == f"{reference}/_history/1"
        assert notification.sender_ods == "RZZ"  # decided for as the subscriber
        assert notification.sender_client == "demo-trust-crisis"
        assert notification.correlation_id == notification.subscription_id
    quiet = by_subscription[empty["id"]]
    assert (quiet.method, quiet.url, quiet.body) == ("POST", HOOKS, "")
    assert json.loads(quiet.headers or "[]") == [["X-Hook-Key", "k-1"]]
    carrying = by_subscription[full["id"]]
    assert (carrying.method, carrying.url) == ("PUT", f"{HOOKS}/{reference}")
    assert carrying.body == communication  # as the subscriber reads it
    assert carrying.id != quiet.id


def test_each_new_version_is_notified_the_gateway_s_own_writes_included(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with gateway(settings, notifying_config(config_dir, tmp_path / "config")) as client:
        full = _subscribed(client, payload=FULL)
        created = escalate(client)
        # The Trust answers: the gateway itself marks the escalation answered (a new
        # version of its Communication, written by no client).
        respond(client, created["id"], trust(client))
    first, second = sorted(notifications(database), key=lambda n: n.resource or "")
    reference = created["resources"]["Communication"]
    assert (first.resource, second.resource) == (
        f"{reference}/_history/1",
        f"{reference}/_history/2",
    )
    assert json.loads(second.body)["status"] == "completed"
    assert {first.subscription_id, second.subscription_id} == {full["id"]}


def test_only_what_matches_the_criteria_is_notified(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with gateway(settings, notifying_config(config_dir, tmp_path / "config")) as client:
        escalations = _subscribed(client)
        requests = _subscribed(
            client, criteria=f"ServiceRequest?performer:identifier={ODS}|RZZ&status=active"
        )
        # A handover to the Trust: its ServiceRequest matches, its Communication is no
        # escalation.
        handover = example("handover-crisis")
        pushed = client.post("/api/handovers", content=json.dumps(handover), headers=JSON)
        assert pushed.status_code == 201, pushed.text
    (notification,) = notifications(database)
    assert notification.subscription_id == requests["id"]
    assert notification.resource == f"ServiceRequest/{pushed.json()['id']}/_history/1"
    assert escalations["id"] != requests["id"]


def test_nothing_is_queued_for_a_subscription_off_or_ended(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with gateway(settings, notifying_config(config_dir, tmp_path / "config")) as client:
        _subscribed(client, status="off")
        ended = {**subscription(), "end": "2000-01-01T00:00:00Z"}
        assert subscribe(client, ended, trust(client)).status_code == 201
        escalate(client)
    assert notifications(database) == []


def test_a_subscriber_an_agreement_withholds_free_text_from_is_sent_none(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    config = notifying_config(config_dir, tmp_path / "config")
    agreement = config / "agreements" / "dsa-north-crisis-pathway.yaml"
    agreement.write_text(agreement.read_text() + "withhold_free_text: true\n")
    with gateway(settings, config) as client:
        _subscribed(client, payload=FULL)
        created = escalate(client)
        shown = client.get(f"/fhir/{created['resources']['Communication']}", headers=trust(client))
    (notification,) = notifications(database)
    sent = json.loads(notification.body)
    assert "payload" not in sent or all("contentString" not in p for p in sent["payload"])
    assert any(label["code"] == "REDACTED" for label in sent["meta"]["security"])
    assert notification.body == shown.text  # what the Trust is shown when it reads it
    assert "No contact since this morning" not in notification.body


def _communication() -> dict[str, Any]:
    """An escalation Communication from AZZ to RZZ, as a client would write one."""
    return {
        "resourceType": "Communication",
        "status": "in-progress",
        "category": [{"coding": [{"system": DATA_CATEGORY, "code": "escalation"}]}],
        "subject": {"identifier": {"system": NHS_NUMBER, "value": "9434765919"}},
        "sender": {"identifier": {"system": ODS, "value": "AZZ"}},
        "recipient": [{"identifier": {"system": ODS, "value": "RZZ"}}],
    }


def _stored_communication(database: Database, config: GatewayConfig) -> int:
    """An escalation Communication stored by the gateway's own writer, with a notifier
    on `config`: how many notifications it queued."""
    with database.write() as connection:
        notifier = SubscriptionNotifier(connection, config)
        service = ResourceService(ResourceStore(connection), LIMITS, changes=notifier)
        service.create("Communication", _communication())
        return int(connection.execute(select(func.count()).select_from(outbox)).scalar_one())


def test_no_agreement_or_no_registered_client_means_no_notification_at_all(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    config_path = notifying_config(config_dir, tmp_path / "config")
    with gateway(settings, config_path) as client:
        _subscribed(client, criteria="Communication?category=escalation")
    config = load_config(config_path)
    # The Trust is party to it, but no agreement covers AZZ sharing with it.
    unagreed = dataclasses.replace(config, agreement_entries=())
    assert _stored_communication(database, unagreed) == 0
    # Its client no longer registered.
    unregistered = dataclasses.replace(
        config, clients=tuple(c for c in config.clients if c.client_id != "demo-trust-crisis")
    )
    assert _stored_communication(database, unregistered) == 0
    assert _stored_communication(database, config) == 1  # as configured, it is notified


def test_a_write_rolled_back_queues_nothing(
    settings: Settings, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    config_path = notifying_config(config_dir, tmp_path / "config")
    with gateway(settings, config_path) as client:
        _subscribed(client, criteria="Communication?category=escalation")
    queued: list[int] = []
    with pytest.raises(RuntimeError, match="fails after storing"):
        _write_then_fail(database, load_config(config_path), queued)
    assert queued == [1]  # queued in the write's transaction...
    # ... and gone with it.
    assert notifications(database) == []
    with database.read() as connection:
        communications = connection.execute(
            select(func.count())
            .select_from(resources)
            .where(resources.c.resource_type == "Communication")
        ).scalar_one()
    assert communications == 0


def _write_then_fail(database: Database, config: GatewayConfig, queued: list[int]) -> None:
    with database.write() as connection:
        notifier = SubscriptionNotifier(connection, config)
        service = ResourceService(ResourceStore(connection), LIMITS, changes=notifier)
        service.create("Communication", _communication())
        queued.append(connection.execute(select(func.count()).select_from(outbox)).scalar_one())
        raise RuntimeError("the write fails after storing")
