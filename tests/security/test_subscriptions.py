"""Subscriptions against another organisation (both databases): the third organisation
(AXX) and the provider (AZZ) can neither read, list, change nor delete the Trust's
Subscription (each attempt answered as a missing one, changing nothing, and logged for
the IG); none can point a Subscription at a URL not configured for it; and one with no
agreement with the record's organisation is told nothing of it, not even that it exists,
whatever its criteria."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.platform.database import Database
from gateway.platform.schema import audit_events, subscriptions
from gateway.platform.settings import Settings
from tests.access_log.reading import event_references, event_rules
from tests.subscriptions.support import (
    FHIR_JSON,
    HOOKS,
    ODS,
    THIRD_BASE,
    escalate,
    gateway,
    notifications,
    notifying_config,
    subscribe,
    subscription,
    third,
    trust,
)


@pytest.fixture
def client(settings: Settings, config_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    with gateway(settings, notifying_config(config_dir, tmp_path / "config")) as test:
        yield test


def _contents(database: Database) -> list[str]:
    with database.read() as connection:
        return list(connection.execute(select(subscriptions.c.content)).scalars())


@pytest.mark.parametrize("who", ["third", "provider"])
def test_another_organisation_cannot_read_list_change_or_delete_a_subscription(
    client: TestClient, database: Database, who: str
) -> None:
    owned = subscribe(client, subscription(), trust(client)).json()
    before = _contents(database)
    other = third(client) if who == "third" else {}  # {}: the provider's own token
    path = f"/fhir/Subscription/{owned['id']}"
    assert client.get(path, headers=other).status_code == 404
    assert client.get("/fhir/Subscription", headers=other).json()["total"] == 0
    changed = {**owned, "channel": {"type": "rest-hook", "endpoint": THIRD_BASE}}
    put = client.put(path, content=json.dumps(changed), headers={**FHIR_JSON, **other})
    assert put.status_code == 404
    assert client.delete(path, headers=other).status_code == 404
    assert _contents(database) == before
    # The same answer as for a Subscription that does not exist.
    missing = client.get("/fhir/Subscription/no-such-one", headers=other)
    assert (
        missing.json()["issue"][0]["diagnostics"]
        == (client.get(path, headers=other).json()["issue"][0]["diagnostics"])
    )
    # Each attempt is in the access log, naming the Subscription and the rule.
    with database.read() as connection:
        refused = [
            json.loads(content)
            for content in connection.execute(
                select(audit_events.c.content).where(audit_events.c.outcome == 4)
            ).scalars()
        ]
    named = [e for e in refused if f"Subscription/{owned['id']}/_history/1" in event_references(e)]
    assert len(named) == 4  # read, update, delete, and the read compared above
    assert all("access:organisation-not-party" in event_rules(e) for e in named)


def test_no_organisation_can_point_a_subscription_at_another_s_url(
    client: TestClient, database: Database
) -> None:
    # The third organisation, at the Trust's configured URL, or anywhere it likes.
    for endpoint in (HOOKS, "https://evil.example/collect", "http://127.0.0.1:8080/api"):
        body = subscription(endpoint=endpoint)
        refused = subscribe(client, body, third(client))
        assert refused.status_code == 422, endpoint
        assert refused.json()["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
    assert _contents(database) == []


@pytest.mark.parametrize(
    "criteria",
    [
        "Communication?category=escalation",
        f"Communication?recipient:identifier={ODS}|RZZ",
        f"Communication?sender:identifier={ODS}|AZZ&category=escalation",
        "ServiceRequest?status=active",
        "Flag?status=active",
        "Provenance?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919",
    ],
)
def test_an_organisation_without_an_agreement_is_told_nothing_of_another_s_records(
    client: TestClient, database: Database, criteria: str
) -> None:
    # AXX has an agreement with the Trust, none with the provider (AZZ), and is party to
    # nothing AZZ sends the Trust: a Subscription of its own, however broad, hears
    # nothing of AZZ's escalation, not even an empty notification.
    body: dict[str, Any] = subscription(criteria, f"{THIRD_BASE}/all")
    taken = subscribe(client, body, third(client))
    assert taken.status_code == 201, taken.text
    full = subscribe(
        client,
        {**body, "channel": {**body["channel"], "payload": "application/fhir+json"}},
        third(client),
    )
    assert full.status_code == 201
    created = escalate(client)
    assert created["resources"]["Communication"]
    assert notifications(database) == []
    # The Trust's own, for the same escalation, is notified: the escalation did match.
    assert subscribe(client, subscription(), trust(client)).status_code == 201
    escalate(client, "EPR-SUB-2")
    assert {n.destination for n in notifications(database)} == {"RZZ"}
