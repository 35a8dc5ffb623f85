"""Subscriptions end to end, on both databases: a real `gateway serve` (its own delivery
worker) notifies a real receiver on loopback within seconds of an escalation being
pushed, empty and carrying the resource, and again when the Trust's answer marks it
answered; the third organisation's receiver, with no agreement with the provider, hears
nothing; the step-up the gateway itself writes when nobody answers is notified like any
escalation; and a receiver that keeps failing has its Subscription set to error, shown
in /metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gateway.commands.token import request_token
from gateway.platform.database import Database
from tests.handovers.test_ladder_end_to_end import shortened
from tests.handovers.test_routes import example
from tests.servers import running_server, served_token
from tests.subscriptions.receiver import Received, running_receiver
from tests.subscriptions.support import (
    ESCALATIONS_TO_RZZ,
    FHIR_JSON,
    JSON,
    notifying_config,
    subscription,
)
from tests.tokens import PROVIDER, TEST_KEYS, THIRD_PROVIDER, TRUST

FULL = "application/fhir+json"


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _subscribe(base: str, token: dict[str, str], body: dict[str, Any]) -> str:
    created = httpx.post(f"{base}/fhir/Subscription", json=body, headers={**FHIR_JSON, **token})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "active"
    subscription_id: str = created.json()["id"]
    return subscription_id


def _third_token(base: str, config: Path) -> dict[str, str]:
    key = TEST_KEYS / f"{THIRD_PROVIDER}.private.pem"
    response = request_token(config, THIRD_PROVIDER, base, key=key)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _by_method(received: list[Received]) -> dict[str, list[Received]]:
    found: dict[str, list[Received]] = {"POST": [], "PUT": []}
    for request in received:
        found[request.method].append(request)
    return found


def test_a_trust_is_told_of_an_escalation_and_its_answer_in_seconds_and_the_third_of_nothing(
    database_url: str, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with running_receiver() as trust_hooks, running_receiver() as third_hooks:
        config = notifying_config(
            config_dir,
            tmp_path / "config",
            trust_base=trust_hooks.base_url,
            third_base=f"{third_hooks.base_url}/hooks",
        )
        with running_server(database_url, GATEWAY_CONFIG_DIR=str(config)) as base:
            trust = served_token(base, TRUST, config_dir=config)
            provider = served_token(base, PROVIDER, config_dir=config)
            hooks = f"{trust_hooks.base_url}/hooks"
            empty = _subscribe(base, trust, subscription(endpoint=hooks))
            full = _subscribe(base, trust, subscription(endpoint=hooks, payload=FULL))
            third = _third_token(base, config)
            _subscribe(
                base, third, subscription(ESCALATIONS_TO_RZZ, f"{third_hooks.base_url}/hooks")
            )
            _subscribe(
                base,
                third,
                subscription("Communication?category=escalation", f"{third_hooks.base_url}/hooks"),
            )

            pushed_at = time.monotonic()
            pushed = httpx.post(
                f"{base}/api/escalations",
                content=json.dumps(example("escalation-manager")),
                headers={**JSON, **provider},
            )
            assert pushed.status_code == 201, pushed.text
            escalation = pushed.json()
            assert wait_for(lambda: len(trust_hooks.requests()) == 2, 10)
            assert time.monotonic() - pushed_at < 5  # seconds, not a polling interval
            reference = escalation["resources"]["Communication"]
            first = _by_method(trust_hooks.requests())
            (posted,), (put,) = first["POST"], first["PUT"]
            assert (posted.path, posted.body) == ("/fhir/hooks", b"")
            assert posted.headers["x-correlation-id"] == empty
            assert put.path == f"/fhir/hooks/{reference}"
            assert put.headers["x-correlation-id"] == full
            assert put.headers["content-type"] == FULL
            sent = json.loads(put.body)
            assert (sent["meta"]["versionId"], sent["status"]) == ("1", "in-progress")
            served = httpx.get(f"{base}/fhir/{reference}", headers=trust).json()
            assert sent == served
            assert posted.headers["x-request-id"] != put.headers["x-request-id"]

            # The Trust answers; the gateway marks the escalation answered: notified again.
            answered = httpx.post(
                f"{base}/api/escalations/{escalation['id']}/responses",
                content=json.dumps({"summary": "Home visit at 16:00."}),
                headers={**JSON, **trust},
            )
            assert answered.status_code == 200, answered.text
            assert wait_for(lambda: len(trust_hooks.requests()) == 4, 10)
            second = _by_method(trust_hooks.requests()[2:])
            (again,) = second["PUT"]
            assert json.loads(again.body)["status"] == "completed"
            assert json.loads(again.body)["meta"]["versionId"] == "2"
            assert len(second["POST"]) == 1
            # The third organisation (no agreement with the provider) heard nothing,
            # though its Subscriptions were active all along.
            assert third_hooks.requests() == []
            listed = httpx.get(f"{base}/fhir/Subscription", headers=third).json()
            assert {e["resource"]["status"] for e in listed["entry"]} == {"active"}


def test_a_receiver_that_keeps_failing_has_its_subscription_set_to_error(
    database_url: str, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with running_receiver(status=503) as trust_hooks:
        config = notifying_config(
            config_dir, tmp_path / "config", trust_base=trust_hooks.base_url, base_seconds=0.05
        )
        with running_server(
            database_url, GATEWAY_CONFIG_DIR=str(config), GATEWAY_SUBSCRIPTION_FAILURE_LIMIT="2"
        ) as base:
            trust = served_token(base, TRUST, config_dir=config)
            provider = served_token(base, PROVIDER, config_dir=config)
            subscription_id = _subscribe(
                base, trust, subscription(endpoint=f"{trust_hooks.base_url}/hooks")
            )
            pushed = httpx.post(
                f"{base}/api/escalations",
                content=json.dumps(example("escalation-manager")),
                headers={**JSON, **provider},
            )
            assert pushed.status_code == 201, pushed.text
            path = f"{base}/fhir/Subscription/{subscription_id}"
            assert wait_for(lambda: httpx.get(path, headers=trust).json()["status"] == "error", 20)
            shown = httpx.get(path, headers=trust).json()
            assert shown["error"] == "2 notifications in a row failed; the last: HTTP 503."
            metrics = httpx.get(f"{base}/metrics").text
            assert 'gateway_subscriptions{status="error"} 1.0' in metrics
            assert 'gateway_subscription_notifications_total{outcome="retrying"} 2.0' in metrics
            assert "9434765919" not in metrics
            assert len(trust_hooks.requests()) == 2  # and no more once in error


def _levels(received: list[Received]) -> list[str]:
    """The ladder level of each escalation Communication PUT to the receiver, in order."""
    levels = []
    for request in received:
        if request.method != "PUT":
            continue
        resource = json.loads(request.body)
        codes = [c["code"] for cat in resource.get("category", []) for c in cat["coding"]]
        levels += [code for code in codes if code in ("front-line", "manager", "senior")]
    return levels


def test_a_trust_is_told_of_the_step_up_the_gateway_writes_when_nobody_answers(
    database_url: str, database: Database, config_dir: Path, tmp_path: Path
) -> None:
    with running_receiver() as trust_hooks, running_receiver() as third_hooks:
        config = shortened(
            notifying_config(
                config_dir,
                tmp_path / "config",
                trust_base=trust_hooks.base_url,
                third_base=f"{third_hooks.base_url}/hooks",
            )
        )
        env = {"GATEWAY_CONFIG_DIR": str(config), "GATEWAY_DEADLINE_POLL_SECONDS": "0.2"}
        with running_server(database_url, **env) as base:
            trust = served_token(base, TRUST, config_dir=config)
            provider = served_token(base, PROVIDER, config_dir=config)
            hooks = f"{trust_hooks.base_url}/hooks"
            _subscribe(base, trust, subscription(endpoint=hooks, payload=FULL))
            third = _third_token(base, config)
            _subscribe(
                base,
                third,
                subscription("Communication?category=escalation", f"{third_hooks.base_url}/hooks"),
            )
            body = example("escalation-manager")
            body["escalation"]["level"] = "front-line"
            pushed = httpx.post(
                f"{base}/api/escalations", content=json.dumps(body), headers={**JSON, **provider}
            )
            assert pushed.status_code == 201, pushed.text
            # Nobody answers: two seconds on, the gateway itself writes the manager step,
            # and the Trust is told of it as of any escalation.
            assert wait_for(lambda: "manager" in _levels(trust_hooks.requests()), 30), [
                (r.method, r.path) for r in trust_hooks.requests()
            ]
            stepped = next(
                json.loads(r.body)
                for r in trust_hooks.requests()
                if r.method == "PUT" and "manager" in _levels([r])
            )
            served = httpx.get(f"{base}/fhir/Communication/{stepped['id']}", headers=trust)
            assert served.status_code == 200
            assert served.json()["meta"]["versionId"] == stepped["meta"]["versionId"]
            first = pushed.json()["resources"]["Communication"]
            assert f"Communication/{stepped['id']}" != first
            assert _levels(trust_hooks.requests())[0] == "front-line"
        assert third_hooks.requests() == []
