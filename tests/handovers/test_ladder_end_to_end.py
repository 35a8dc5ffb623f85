"""The ladder in real time, through a real `gateway serve` (and, on PostgreSQL, two
`gateway worker` processes beside it, all watching the same deadlines): an escalation
nobody answers climbs the ladder with its deadlines shortened to seconds, each step
delivered to a real Trust system on loopback exactly once, each deadline acted on by
exactly one process, and the top of the ladder ends in a notice, not another step."""

from __future__ import annotations

import json
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import select

from gateway.platform.database import Database
from gateway.platform.schema import escalation_steps, interface_delays
from tests import forked
from tests.exchange.support import push_config
from tests.exchange.test_end_to_end import wait_for
from tests.exchange.trust import running_trust
from tests.handovers.test_routes import example
from tests.servers import gateway_env, running_server, served_token

SECONDS = "PT2S"


def shortened(config: Path) -> Path:
    """The test configuration with RZZ's ladder at two seconds a step."""
    level = {
        "respond_within": dict.fromkeys(("emergency", "very-urgent", "urgent", "routine"), SECONDS)
    }
    ladder = {
        "receiver": "RZZ",
        "levels": [
            {
                **level,
                "level": "front-line",
                "contact": {"name": "Duty line", "telephone": "01632 960100"},
            },
            {
                **level,
                "level": "manager",
                "contact": {"name": "Duty manager", "telephone": "01632 960101"},
            },
            {
                **level,
                "level": "senior",
                "contact": {"name": "On-call manager", "telephone": "01632 960102"},
                "on_missed": "notify",
            },
        ],
    }
    (config / "ladders.yaml").write_text(yaml.safe_dump({"ladders": [ladder]}))
    return config


def rows(database: Database, table: Any) -> list[dict[str, Any]]:
    with database.read() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table))]


def messages_levels(bodies: list[bytes]) -> list[str]:
    """The ladder level of each escalation the Trust received, in the order stored."""
    levels = []
    for body in bodies:
        message = json.loads(body)
        for entry in message["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Communication":
                codes = [c["code"] for cat in resource["category"] for c in cat["coding"]]
                levels += [code for code in codes if code in ("front-line", "manager", "senior")]
    return levels


def test_an_unanswered_escalation_climbs_the_ladder_once_per_step(
    database: Database, database_url: str, config_dir: Path, tmp_path: Path
) -> None:
    with running_trust() as trust:
        config = shortened(push_config(config_dir, tmp_path / "config", trust.base_url))
        env = {"GATEWAY_CONFIG_DIR": str(config), "GATEWAY_DEADLINE_POLL_SECONDS": "0.2"}
        workers = []
        if database.dialect == "postgresql":
            # Three processes watch the same deadlines; each must be acted on once.
            worker_env = gateway_env(database_url, **env)
            workers = [
                forked.start(["worker"], env=worker_env, start_new_session=True) for _ in range(2)
            ]
        try:
            with running_server(database_url, **env) as base:
                token = served_token(base, config_dir=config)
                body = example("escalation-manager", respond_in=timedelta(hours=2))
                body["escalation"]["level"] = "front-line"
                created = httpx.post(
                    f"{base}/api/escalations",
                    content=json.dumps(body),
                    headers={**token, "Content-Type": "application/json"},
                )
                assert created.status_code == 201, created.text
                climbed = wait_for(
                    lambda: len(rows(database, interface_delays)) == 3 and len(trust.stored) == 3,
                    60,
                )
                timeline = httpx.get(
                    f"{base}/api/escalations/{created.json()['id']}/timeline", headers=token
                ).json()
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)
    assert climbed
    steps = sorted(rows(database, escalation_steps), key=lambda step: step["step"])
    assert [step["level"] for step in steps] == ["front-line", "manager", "senior"]
    assert [step["state"] for step in steps] == ["missed", "missed", "missed"]
    delays = sorted(rows(database, interface_delays), key=lambda delay: delay["step"])
    assert [delay["action"] for delay in delays] == ["step-up", "step-up", "notify"]
    # Each step delivered once, in ladder order, each acted on within the promised
    # minute of its deadline (how soon is measured in bench/, not asserted here).
    assert trust.requests == 3
    assert messages_levels(list(trust.stored.values())) == ["front-line", "manager", "senior"]
    for delay in delays:
        assert delay["detected_at"] - delay["deadline"] < timedelta(seconds=60)
    assert [step["level"] for step in timeline["steps"]] == ["front-line", "manager", "senior"]
