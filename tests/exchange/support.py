"""A gateway whose configuration has the demo Trust (RZZ) take pushes, with no delivery
worker of its own, so a test drives one itself."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.configuration.loader import load_config
from gateway.exchange.deliveries import Delivery
from gateway.exchange.outbox import OutboxStore
from gateway.platform.database import Database
from gateway.platform.settings import Settings
from tests.paths import EXAMPLES
from tests.tokens import access_token, bearer


def push_config(
    config_dir: Path, target: Path, base_url: str, *, send: str = "process-message", **retry: float
) -> Path:
    shutil.copytree(config_dir, target)
    retry_yaml = ", ".join(f"{key}: {value}" for key, value in retry.items())
    (target / "endpoints.yaml").write_text(
        "endpoints:\n"
        "  - ods: RZZ\n"
        "    mode: push\n"
        f"    base_url: {base_url}\n"
        f"    send: {send}\n"
        "    timeouts: {connect_seconds: 2, read_seconds: 2}\n"
        + (f"    retry: {{{retry_yaml}}}\n" if retry else "")
    )
    return target


@contextmanager
def gateway(settings: Settings, config: Path) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"config_dir": config, "delivery_workers": 0}))
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        client.headers["Authorization"] = bearer(access_token(client))["Authorization"]
        yield client


def handover(external_id: str, nhs_number: str = "9434765919") -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "handover-crisis.json").read_text())
    body["external_id"] = external_id
    body["patient"]["nhs_number"] = nhs_number
    due = datetime.now(UTC) + timedelta(hours=2)
    body["time_sensitivity"]["respond_by"] = due.isoformat(timespec="seconds")
    return body


def push(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post(
        "/api/handovers", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    service_request_id: str = response.json()["id"]
    return service_request_id


def deliveries(database: Database) -> list[Delivery]:
    with database.read() as connection:
        return OutboxStore(connection).listed(limit=10_000)


class Clock:
    """Now, moved forward by the test."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


def config_loader(config: Path) -> Callable[[], Any]:
    loaded = load_config(config)
    return lambda: loaded
