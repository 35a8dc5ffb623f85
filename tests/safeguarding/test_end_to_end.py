"""Safeguarding deadlines in real time, through a real `gateway serve` (and, on
PostgreSQL, a `gateway worker` beside it, both watching the same deadlines), with every
safeguarding ladder step shortened to two seconds: an action nobody completes climbs its
owner's ladder to the top, once per level, until the owner completes it; a restriction
nobody reviews climbs its author's ladder, and ends by itself at its time limit with the
Trust told."""

from __future__ import annotations

import json
import os
import shutil
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import select

from gateway.platform.database import Database
from gateway.platform.schema import safeguarding_deadlines
from tests import forked
from tests.exchange.test_end_to_end import wait_for
from tests.safeguarding.support import action_body
from tests.safeguarding.test_restrictions import instant, restriction
from tests.servers import gateway_env, running_server, served_token

JSON = {"Content-Type": "application/json"}
NOTICE = "https://fhir.mh-gateway.example.org/CodeSystem/communication-category|ladder-notice"


def two_second_ladders(config: Path) -> Path:
    """The test configuration with the Trust's and the provider's safeguarding ladders at
    two seconds a level."""
    within = {
        "respond_within": dict.fromkeys(("emergency", "very-urgent", "urgent", "routine"), "PT2S")
    }

    def ladder(owner: str) -> dict[str, Any]:
        levels = [
            {**within, "level": level, "contact": {"name": f"{owner} {level}", "telephone": phone}}
            for level, phone in (
                ("front-line", "01632 960110"),
                ("manager", "01632 960111"),
                ("senior", "01632 960112"),
            )
        ]
        levels[-1]["on_missed"] = "notify"
        return {"receiver": owner, "pathway": "safeguarding", "levels": levels}

    (config / "ladders.yaml").write_text(
        yaml.safe_dump({"ladders": [ladder("RZZ"), ladder("AZZ")]})
    )
    return config


def missed(database: Database, record_id: str) -> list[dict[str, Any]]:
    with database.read() as connection:
        rows = connection.execute(
            select(safeguarding_deadlines)
            .where(safeguarding_deadlines.c.record_id == record_id)
            .order_by(safeguarding_deadlines.c.opened_at)
        )
        return [dict(row._mapping) for row in rows if row.state == "missed"]


def _coded(resource: dict[str, Any], system_code: str) -> bool:
    system, _, code = system_code.partition("|")
    return any(
        coding.get("system") == system and coding.get("code") == code
        for category in resource.get("category", [])
        for coding in category.get("coding", [])
    )


def post(base: str, path: str, body: dict[str, Any], token: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{base}/api/{path}", content=json.dumps(body), headers={**token, **JSON})


def test_overdue_actions_and_restrictions_climb_in_real_time_and_expire(
    database: Database, database_url: str, config_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(config_dir, config)
    two_second_ladders(config)
    env = {"GATEWAY_CONFIG_DIR": str(config), "GATEWAY_DEADLINE_POLL_SECONDS": "0.2"}
    workers = []
    if database.dialect == "postgresql":
        workers = [
            forked.start(["worker"], env=gateway_env(database_url, **env), start_new_session=True)
        ]
    try:
        with running_server(database_url, **env) as base:
            provider = served_token(base, config_dir=config)
            trust = served_token(base, "demo-trust-crisis", config_dir=config)
            action = post(base, "safeguarding/actions", action_body(timedelta(seconds=2)), provider)
            assert action.status_code == 201, action.text
            task = action.json()["id"]
            now = datetime.now(UTC)
            made = post(
                base,
                "restrictions",
                restriction(
                    review_date=instant(now + timedelta(seconds=2)),
                    time_limit=instant(now + timedelta(seconds=12)),
                ),
                provider,
            )
            assert made.status_code == 201, made.text
            flag = made.json()["id"]
            climbed = wait_for(
                lambda: len(missed(database, task)) == 3 and len(missed(database, flag)) == 3, 60
            )
            done = [
                post(
                    base,
                    f"safeguarding/actions/{task}/status",
                    {"status": s, "by": {"name": "A"}},
                    trust,
                )
                for s in ("accepted", "in-progress")
            ]
            completed = post(
                base,
                f"safeguarding/actions/{task}/status",
                {
                    "status": "completed",
                    "by": {"name": "A"},
                    "outcome": "Held.",
                    "evidence": "Minutes.",
                },
                trust,
            )
            ended = wait_for(
                lambda: (
                    httpx.get(f"{base}/api/restrictions/{flag}", headers=trust).json()["state"]
                    == "ended"
                ),
                30,
            )
            shown = httpx.get(
                f"{base}/api/safeguarding/actions", params={"state": "completed"}, headers=provider
            ).json()
            notices = httpx.get(
                f"{base}/fhir/Communication",
                params={"_count": 50},
                headers=trust,
            ).json()
    finally:
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
    assert climbed
    # Each level acted on once, by one process, in ladder order, ending at the top.
    for record in (task, flag):
        levels = missed(database, record)
        assert [row["level"] for row in levels] == ["front-line", "manager", "senior"]
        assert [row["action"] for row in levels] == ["step-up", "step-up", "notify"]
        for row in levels:
            assert row["acted_at"] - row["deadline"] < timedelta(seconds=60)
    assert [answer.status_code for answer in done] == [200, 200]
    assert completed.status_code == 200, completed.text
    assert ended
    # The Trust was told of every level each climbed, and of the restriction's end.
    told = [n["resource"] for n in notices.get("entry", []) if "about" in n["resource"]]
    ladder = [n["about"][0]["reference"] for n in told if _coded(n, NOTICE)]
    assert ladder.count(f"Task/{task}") == 3
    assert ladder.count(f"Flag/{flag}") == 3
    (end,) = [
        n for n in told if not _coded(n, NOTICE) and n["about"][0]["reference"] == f"Flag/{flag}"
    ]
    assert "ended it" in end["payload"][0]["contentString"]
    # The requester sees it done, and the levels it was missed at.
    (done_action,) = [a for a in shown["actions"] if a["id"] == task]
    assert [level["level"] for level in done_action["escalations"]] == [
        "front-line",
        "manager",
        "senior",
    ]
