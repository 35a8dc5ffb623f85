"""What the Subscription tests share: a configuration whose Trust (RZZ) may be notified
under a URL of its own, Subscriptions to its escalations, and the gateway in front of
it (with no delivery worker of its own, so that a test drives one itself)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.exchange.deliveries import Delivery
from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.exchange.support import deliveries
from tests.handovers.test_routes import example
from tests.tokens import THIRD_PROVIDER, TRUST, access_token, bearer

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
JSON = {"Content-Type": "application/json"}
# The Trust's crisis system, where its notifications may go (endpoints.yaml base_url).
TRUST_BASE = "https://crisis.rzz.test/fhir"
HOOKS = f"{TRUST_BASE}/hooks/escalations"
# The third organisation's (AXX): it has no agreement with the provider (AZZ).
THIRD_BASE = "https://alerts.axx.test/hooks"
ESCALATIONS_TO_RZZ = f"Communication?recipient:identifier={ODS}|RZZ&category=escalation"


def notifying_config(
    config_dir: Path,
    target: Path,
    *,
    trust_base: str = TRUST_BASE,
    third_base: str = THIRD_BASE,
    mode: str = "pull",
    **retry: float,
) -> Path:
    """The test configuration with RZZ (pulling, unless told) notified under
    `trust_base`, and AXX under `third_base`."""
    shutil.copytree(config_dir, target)
    retry_yaml = ", ".join(f"{key}: {value}" for key, value in retry.items())
    (target / "endpoints.yaml").write_text(
        "endpoints:\n"
        "  - ods: RZZ\n"
        f"    mode: {mode}\n"
        f"    base_url: {trust_base}\n"
        "    timeouts: {connect_seconds: 2, read_seconds: 2}\n"
        + (f"    retry: {{{retry_yaml}}}\n" if retry else "")
        + "  - ods: AXX\n"
        "    mode: pull\n"
        f"    notification_urls: [{third_base}]\n"
    )
    return target


def subscription(
    criteria: str = ESCALATIONS_TO_RZZ,
    endpoint: str = HOOKS,
    *,
    payload: str | None = None,
    headers: tuple[str, ...] = (),
    status: str = "requested",
) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint}
    if payload is not None:
        channel["payload"] = payload
    if headers:
        channel["header"] = list(headers)
    return {
        "resourceType": "Subscription",
        "status": status,
        "reason": "Tell the crisis system of escalations as they arrive.",
        "criteria": criteria,
        "channel": channel,
    }


@contextmanager
def gateway(settings: Settings, config: Path) -> Iterator[TestClient]:
    """The gateway on `config`, as the provider (AZZ); no delivery worker of its own."""
    app = create_app(settings.model_copy(update={"config_dir": config, "delivery_workers": 0}))
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        client.headers["Authorization"] = bearer(access_token(client))["Authorization"]
        yield client


def trust(client: TestClient) -> dict[str, str]:
    return bearer(access_token(client, TRUST))


def third(client: TestClient) -> dict[str, str]:
    return bearer(access_token(client, THIRD_PROVIDER))


def subscribe(client: TestClient, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.post(
        "/fhir/Subscription", content=json.dumps(body), headers={**FHIR_JSON, **headers}
    )


def escalate(client: TestClient, external_id: str = "EPR-SUB-1") -> dict[str, Any]:
    """An escalation from AZZ to RZZ (the spec's example, due in two hours)."""
    body = example("escalation-manager")
    body["external_id"] = external_id
    response = client.post("/api/escalations", content=json.dumps(body), headers=JSON)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def respond(client: TestClient, escalation_id: str, headers: dict[str, str]) -> None:
    """The Trust's response: the gateway marks the escalation's Communication answered."""
    response = client.post(
        f"/api/escalations/{escalation_id}/responses",
        content=json.dumps({"summary": "Home visit at 16:00."}),
        headers={**JSON, **headers},
    )
    assert response.status_code == 200, response.text


def notifications(database: Database) -> list[Delivery]:
    return [delivery for delivery in deliveries(database) if delivery.is_notification]
