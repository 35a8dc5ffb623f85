"""/fhir/Subscription end to end in process, on both databases: a Subscription is taken
(status active, owned by its organisation), read, listed, turned off, asked for again
and deleted; bad criteria, channels and endpoints are refused with a 422 naming the
element, and nothing is stored; scopes are needed for the Subscription and for what it
would be notified of."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.exchange.deliveries import DeliveryState
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, subscriptions
from gateway.platform.settings import Settings
from gateway.subscriptions.service import MAX_PER_ORGANISATION
from tests.subscriptions.support import (
    ESCALATIONS_TO_RZZ,
    FHIR_JSON,
    HOOKS,
    TRUST_BASE,
    escalate,
    gateway,
    notifications,
    notifying_config,
    subscribe,
    subscription,
    trust,
)
from tests.tokens import IG_LEAD, access_token, bearer
from tests.tokens import TRUST as TRUST_CLIENT


@pytest.fixture
def client(settings: Settings, config_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    with gateway(settings, notifying_config(config_dir, tmp_path / "config")) as test:
        yield test


def stored(database: Database) -> int:
    with database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(subscriptions)).scalar_one())


def put(client: TestClient, current: dict[str, Any], headers: dict[str, str], **change: Any) -> Any:
    body = {**current, **change}
    return client.put(
        f"/fhir/Subscription/{current['id']}",
        content=json.dumps(body),
        headers={**FHIR_JSON, **headers},
    )


def test_a_subscription_is_taken_active_and_served_back_to_its_organisation(
    client: TestClient, database: Database
) -> None:
    headers = trust(client)
    created = subscribe(client, subscription(payload="application/fhir+json"), headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "active"
    assert body["meta"]["versionId"] == "1"
    assert body["criteria"] == ESCALATIONS_TO_RZZ
    assert body["channel"] == {
        "type": "rest-hook",
        "endpoint": HOOKS,
        "payload": "application/fhir+json",
    }
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"].endswith(f"/fhir/Subscription/{body['id']}/_history/1")
    read = client.get(f"/fhir/Subscription/{body['id']}", headers=headers)
    assert read.status_code == 200
    assert read.json() == body
    listed = client.get("/fhir/Subscription", params={"status": "active"}, headers=headers)
    assert listed.status_code == 200
    assert [e["resource"]["id"] for e in listed.json()["entry"]] == [body["id"]]
    assert listed.json()["total"] == 1
    none = client.get("/fhir/Subscription", params={"status": "off"}, headers=headers).json()
    assert none["total"] == 0
    # Its creation is in the access log, naming the Subscription (no person).
    with database.read() as connection:
        events = connection.execute(
            select(audit_events.c.content).where(audit_events.c.subtype == "create")
        ).scalars()
        assert any(f"Subscription/{body['id']}/_history/1".encode() in e for e in events)


def test_it_is_turned_off_asked_for_again_and_deleted_by_its_organisation(
    client: TestClient, database: Database
) -> None:
    headers = trust(client)
    body = subscribe(client, subscription(), headers).json()
    turned_off = put(client, body, headers, status="off")
    assert turned_off.status_code == 200, turned_off.text
    assert (turned_off.json()["status"], turned_off.json()["meta"]["versionId"]) == ("off", "2")
    escalate(client)
    assert notifications(database) == []  # off: notified of nothing
    again = put(client, turned_off.json(), headers, status="requested")
    assert again.json()["status"] == "active"
    stale = put(client, body, {**headers, "If-Match": 'W/"1"'}, status="off")
    assert stale.status_code == 412
    # A notification waiting to be sent is stopped when its Subscription goes.
    escalate(client, "EPR-SUB-2")
    (waiting,) = notifications(database)
    deleted = client.delete(f"/fhir/Subscription/{body['id']}", headers=headers)
    assert deleted.status_code == 204
    assert client.get(f"/fhir/Subscription/{body['id']}", headers=headers).status_code == 404
    (stopped,) = notifications(database)
    assert (stopped.id, stopped.state) == (waiting.id, DeliveryState.STOPPED)
    assert stopped.last_error == "stopped: the subscription was deleted"
    assert stored(database) == 0


def test_only_the_gateway_sets_error(client: TestClient) -> None:
    headers = trust(client)
    body = subscribe(client, subscription(), headers).json()
    refused = put(client, body, headers, status="error", error="my own words")
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Subscription.status"]
    assert client.get(f"/fhir/Subscription/{body['id']}", headers=headers).json() == body


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"criteria": "Communication?nonsense=1"}, "Subscription.criteria"),
        ({"criteria": "Observation?code=1234"}, "Subscription.criteria"),
        ({"criteria": "Organization?identifier=RZZ"}, "Subscription.criteria"),
        ({"criteria": "Communication?_include=Communication:based-on"}, "Subscription.criteria"),
        ({"channel": {"type": "websocket", "endpoint": HOOKS}}, "Subscription.channel.type"),
        ({"channel": {"type": "rest-hook"}}, "Subscription.channel.endpoint"),
        (
            {"channel": {"type": "rest-hook", "endpoint": "http://169.254.169.254/latest"}},
            "Subscription.channel.endpoint",
        ),
        (
            {"channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:5432/"}},
            "Subscription.channel.endpoint",
        ),
        (
            {"channel": {"type": "rest-hook", "endpoint": f"{TRUST_BASE}x/hooks"}},
            "Subscription.channel.endpoint",
        ),
        (
            {"channel": {"type": "rest-hook", "endpoint": f"{TRUST_BASE}/../admin"}},
            "Subscription.channel.endpoint",
        ),
        (
            # Another organisation's configured URL is not this one's.
            {"channel": {"type": "rest-hook", "endpoint": "https://alerts.axx.test/hooks"}},
            "Subscription.channel.endpoint",
        ),
        (
            {"channel": {"type": "rest-hook", "endpoint": HOOKS, "payload": "text/plain"}},
            "Subscription.channel.payload",
        ),
        (
            {
                "channel": {
                    "type": "rest-hook",
                    "endpoint": HOOKS,
                    "header": ["Authorization: Bearer mine"],
                }
            },
            "Subscription.channel.header[0]",
        ),
        ({"status": "error"}, "Subscription.status"),
    ],
)
def test_bad_subscriptions_are_refused_naming_the_element_and_nothing_is_stored(
    client: TestClient, database: Database, change: dict[str, Any], where: str
) -> None:
    refused = subscribe(client, {**subscription(), **change}, trust(client))
    assert refused.status_code == 422, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "business-rule"
    assert outcome["issue"][0]["expression"] == [where]
    assert "169.254" not in refused.text
    assert "Bearer mine" not in refused.text
    assert stored(database) == 0


def test_a_malformed_subscription_is_a_400_and_nothing_is_stored(
    client: TestClient, database: Database
) -> None:
    body = subscription()
    del body["reason"]
    refused = subscribe(client, body, trust(client))
    assert refused.status_code == 400
    assert refused.json()["issue"][0]["expression"] == ["Subscription.reason"]
    bogus = subscribe(client, {**subscription(), "status": "bogus"}, trust(client))
    assert bogus.status_code == 400
    assert bogus.json()["issue"][0]["expression"] == ["Subscription.status"]
    assert stored(database) == 0


def test_an_organisation_with_no_url_configured_cannot_subscribe(
    client: TestClient, database: Database
) -> None:
    # The provider (AZZ) has no endpoint in endpoints.yaml: nowhere to be notified.
    criteria = "Communication?sender:identifier=https://fhir.nhs.uk/Id/ods-organization-code|AZZ"
    refused = subscribe(client, subscription(criteria, "https://epr.azz.test/hooks"), {})
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Subscription.channel.endpoint"]
    assert stored(database) == 0


def test_scopes_are_needed_for_the_subscription_and_for_what_it_watches(
    client: TestClient, database: Database
) -> None:
    ig = bearer(access_token(client, IG_LEAD, "system/AuditEvent.rs"))
    assert subscribe(client, subscription(), ig).status_code == 403
    assert client.get("/fhir/Subscription", headers=ig).status_code == 403
    # The Subscription scope alone: a standing search needs the search scope on its type.
    only = bearer(access_token(client, TRUST_CLIENT, "system/Subscription.cud"))
    refused = subscribe(client, subscription(), only)
    assert refused.status_code == 403
    assert "system/Communication.s" in refused.json()["issue"][0]["diagnostics"]
    searching = bearer(
        access_token(client, TRUST_CLIENT, "system/Subscription.cud system/Communication.s")
    )
    full = subscribe(client, subscription(payload="application/fhir+json"), searching)
    assert full.status_code == 403
    assert "system/Communication.r" in full.json()["issue"][0]["diagnostics"]
    assert stored(database) == 0
    assert subscribe(client, subscription(), searching).status_code == 201


def test_an_organisation_holds_a_bounded_number_of_subscriptions(
    client: TestClient, database: Database
) -> None:
    headers = trust(client)
    for _ in range(MAX_PER_ORGANISATION):
        assert subscribe(client, subscription(), headers).status_code == 201
    refused = subscribe(client, subscription(), headers)
    assert refused.status_code == 422
    assert f"at most {MAX_PER_ORGANISATION}" in refused.json()["issue"][0]["diagnostics"]
    assert stored(database) == MAX_PER_ORGANISATION


def test_a_search_by_parameters_it_does_not_take_is_refused(client: TestClient) -> None:
    headers = trust(client)
    refused = client.get("/fhir/Subscription", params={"criteria": "x"}, headers=headers)
    assert refused.status_code == 400
    posted = client.post(
        "/fhir/Subscription/_search",
        data={"status": "active"},
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert posted.status_code == 200
    assert posted.json()["total"] == 0
