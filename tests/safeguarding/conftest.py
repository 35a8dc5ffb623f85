"""The application on a clock the test moves, for what depends on the time: an action's
deadline passing, the week a huddle covers. The gateway's own deadline watcher runs on
the same clock, so it acts only when the test moves the clock past a deadline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.platform.settings import Settings
from tests.fhir_judge import assert_valid_fhir
from tests.tokens import PROVIDER, THIRD_PROVIDER, TRUST, access_token, bearer

# Wednesday of ISO week 2026-W48, inside the demo agreement's validity.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class Clock:
    """The gateway's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Timed:
    """The application on `clock`, called as the provider; tokens for the others."""

    client: TestClient
    clock: Clock
    trust: dict[str, str]
    third: dict[str, str]


def _judged(response: httpx.Response) -> None:
    if response.headers.get("content-type", "").startswith("application/fhir+json"):
        response.read()
        assert_valid_fhir(response.json())


@pytest.fixture
def timed(settings: Settings) -> Iterator[Timed]:
    clock = Clock(NOW)
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        client.event_hooks = {"request": [], "response": [_judged]}
        client.headers["Authorization"] = f"Bearer {access_token(client, PROVIDER)}"
        yield Timed(
            client,
            clock,
            bearer(access_token(client, TRUST)),
            bearer(access_token(client, THIRD_PROVIDER)),
        )
