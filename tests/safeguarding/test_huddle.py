"""The weekly huddle on both databases through the real application, on the test's
clock: what is open, overdue and completed in an ISO week for the caller's organisation,
and the partner contacts made in it; as JSON and as the printable page (served with a
policy allowing only its own stylesheet, and shown so by a browser)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from tests.browser import chromium
from tests.safeguarding.conftest import NOW, Timed
from tests.safeguarding.support import JSON, action_body, contact, move, raise_action
from tests.security.test_summary_page import assert_other_security_headers, assert_page_policy
from tests.servers import running_server, served_token

WEEK = "2026-W48"  # Monday 23 to Sunday 29 November 2026


def a_week_of_actions(timed: Timed) -> dict[str, str]:
    """Three actions raised on Wednesday: one completed that day after a partner contact,
    one past its deadline by the afternoon, one due next week."""
    client, trust = timed.client, timed.trust
    done = raise_action(client, due_in=timedelta(days=1), now=NOW)["id"]
    late = raise_action(client, due_in=timedelta(hours=2), now=NOW)["id"]
    later = raise_action(client, due_in=timedelta(days=7), now=NOW)["id"]
    for status in ("accepted", "in-progress"):
        assert move(client, done, status, **trust).status_code == 200
    assert contact(client, done, at=NOW + timedelta(minutes=30), **trust).status_code == 201
    timed.clock.now = NOW + timedelta(hours=1)
    assert move(client, done, "completed", **trust).status_code == 200
    timed.clock.now = NOW + timedelta(hours=3)
    return {"done": done, "late": late, "later": later}


def huddle(timed: Timed, week: str = WEEK, **headers: str) -> Any:
    return timed.client.get("/api/safeguarding/huddle", params={"week": week}, headers=headers)


def test_the_huddle_shows_the_week_for_each_party_and_nobody_else(timed: Timed) -> None:
    ids = a_week_of_actions(timed)
    for headers in ({}, timed.trust):
        answer = huddle(timed, **headers)
        assert answer.status_code == 200, answer.text
        week = answer.json()
        assert week["week"] == WEEK
        assert week["counts"] == {"open": 2, "overdue": 1, "completed": 1, "contacts": 1}
        assert [a["id"] for a in week["overdue"]] == [ids["late"]]
        assert [a["id"] for a in week["open"]] == [ids["late"], ids["later"]]
        assert [a["id"] for a in week["completed"]] == [ids["done"]]
        (met,) = week["contacts"]
        assert met["kind"] == "strategy-meeting"
        assert met["action"] == f"Task/{ids['done']}"
        assert met["agreed"].startswith("Strategy meeting on Thursday")
    # Monday 00:00 in England to the next Monday's.
    assert week["from"] == "2026-11-23T00:00:00Z"
    assert week["to"] == "2026-11-30T00:00:00Z"
    third = huddle(timed, **timed.third).json()
    assert third["counts"] == {"open": 0, "overdue": 0, "completed": 0, "contacts": 0}
    # The week before: nothing had been raised yet.
    before = huddle(timed, "2026-W47").json()
    assert before["counts"] == {"open": 0, "overdue": 0, "completed": 0, "contacts": 0}
    for bad in ("2026-48", "2026-W54", "last week"):
        refused = huddle(timed, bad)
        assert refused.status_code == 422
        assert refused.json()["issue"][0]["expression"] == ["week"]


def test_the_huddle_page_is_printable_and_runs_nothing(timed: Timed) -> None:
    a_week_of_actions(timed)
    for asked in ({"params": {"week": WEEK, "format": "html"}}, {"params": {"week": WEEK}}):
        page = timed.client.get(
            "/api/safeguarding/huddle", headers={"Accept": "text/html"}, **asked
        )
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert_page_policy(page.headers["content-security-policy"], page.text)
        assert "<script" not in page.text
        assert "<title>Safeguarding huddle 2026-W48</title>" in page.text
        assert "@media print" in page.text
        assert 'id="overdue"' in page.text
        assert "9434765919" not in page.text.split("<body>")[0]  # the title names nobody
    assert timed.client.get("/api/safeguarding/huddle", params={"format": "pdf"}).status_code == 406


@pytest.mark.usefixtures("database")
def test_a_browser_shows_the_served_huddle_styled(database_url: str, tmp_path: Path) -> None:
    with running_server(database_url) as base:
        provider = {**served_token(base), **JSON}
        trust = served_token(base, "demo-trust-crisis")
        raised = httpx.post(
            f"{base}/api/safeguarding/actions",
            content=json.dumps(action_body(due_in=-timedelta(hours=1))),
            headers=provider,
            timeout=10,
        )
        assert raised.status_code == 201, raised.text
        url = f"{base}/api/safeguarding/huddle?format=html"
        with chromium(tmp_path / "profile") as browser:
            loaded = browser.load(url, headers=trust, width=1280, height=800)
            overdue = browser.evaluate(
                "getComputedStyle(document.querySelector('.counts .overdue')).color"
            )
            served = browser.evaluate("document.documentElement.outerHTML")
            screenshot = browser.screenshot()
    (tmp_path / "huddle-page.png").write_bytes(screenshot)
    Path("/tmp/huddle-page.png").write_bytes(screenshot)
    assert loaded.status == 200
    assert loaded.problems() == []
    assert_page_policy(loaded.headers["content-security-policy"], served)
    assert_other_security_headers(loaded.headers)
    assert overdue == "rgb(176, 0, 32)"  # the stylesheet applied
