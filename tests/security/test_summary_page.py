"""The crisis summary page as served: its response header policy allows exactly the page's
own stylesheet (by hash) and nothing else, every other response keeps the strict default,
and a real browser, loading the page from a real `gateway serve` with its real headers at
a laptop's 1280x800, shows the urgency and risk colours the stylesheet sets, with no
policy violation, and everything a crisis clinician decides on above the fold."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.handover.dataset_input import parse_dataset
from core.handover.ladder_position import LadderContact, LadderPosition
from core.handover.summary_page import ConfiguredCallBack, SummaryContext, summary_html
from tests.browser import Page, chromium
from tests.handovers.test_routes import example, push
from tests.paths import EXAMPLES
from tests.servers import running_server, served_token

STRICT = "default-src 'none'; frame-ancestors 'none'"
HTML = {"Accept": "text/html"}
# The stylesheet's colours (core/handover/summary_style.py), as a browser computes them.
RED = "rgb(176, 0, 32)"  # #b00020: the emergency banner, high risk
AMBER = "rgb(138, 75, 0)"  # #8a4b00: medium risk
WHITE = "rgb(255, 255, 255)"  # the words on the emergency banner


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        assert name not in parsed, f"{name} given twice"
        parsed[name] = values
    return parsed


def style_hash(page: str) -> str:
    """The CSP source for the page's one <style> element, computed from the page served."""
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.DOTALL)
    assert len(styles) == 1
    digest = hashlib.sha256(styles[0].encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def assert_page_policy(policy: str, page: str) -> None:
    """Everything denied but the page's own stylesheet: no script, no inline style
    attribute, nothing loaded, never framed, no base or form target."""
    assert directives(policy) == {
        "default-src": ["'none'"],
        "style-src": [style_hash(page)],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
    }


def assert_other_security_headers(headers: httpx.Headers | dict[str, str]) -> None:
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cross-origin-resource-policy"] == "same-origin"


def summary_path(client: TestClient, body: dict[str, Any]) -> str:
    created = push(client, body)
    assert created.status_code == 201, created.text
    communication = created.json()["resources"]["Communication"]
    return f"/fhir/{communication}/$summary"


def test_the_page_is_served_with_a_policy_allowing_exactly_its_own_style(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    path = summary_path(client, example("handover-crisis"))
    page = client.get(path, headers={**trust_token, **HTML})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert len(page.headers.get_list("content-security-policy")) == 1
    assert_page_policy(page.headers["content-security-policy"], page.text)
    assert_other_security_headers(page.headers)


def test_every_other_response_keeps_the_strict_policy(
    client: TestClient, trust_token: dict[str, str]
) -> None:
    path = summary_path(client, example("handover-crisis"))
    as_json = client.get(path, headers=trust_token)
    missing = client.get("/fhir/Communication/no-such-id/$summary", headers={**trust_token, **HTML})
    refused = client.get(path, headers={**HTML, "Authorization": "Bearer not-a-token"})
    bad_format = client.get(path, params={"_format": "pdf"}, headers=trust_token)
    for response, status in ((as_json, 200), (missing, 404), (refused, 401), (bad_format, 406)):
        assert response.status_code == status, response.text
        assert response.headers["content-security-policy"] == STRICT
        assert_other_security_headers(response.headers)


# --- In a real browser, from a real server ----------------------------------------------------


def overdue_emergency_escalation() -> dict[str, Any]:
    """The escalation example made an overdue emergency: due 20 minutes ago on the wall
    clock the real server also reads (held in the EPR's outbox, say), escalated half an
    hour ago, with a second, medium, risk; under a new external id. It gives no call-back
    number of its own, so the page shows the provider's configured one."""
    now = datetime.now(UTC)
    body = example("escalation-manager")
    body["external_id"] = f"EPR-{uuid.uuid4().hex[:12]}"
    body["time_sensitivity"] = {
        "priority": "emergency",
        "respond_by": (now - timedelta(minutes=20)).isoformat(timespec="seconds"),
    }
    body["escalation"]["escalated_at"] = (now - timedelta(minutes=30)).isoformat(timespec="seconds")
    body["key_risks"].append(
        {
            "type": "exploitation",
            "level": "medium",
            "description": "New associates staying at the flat; money going missing.",
        }
    )
    body["patient"]["address"] = {
        "lines": ["Flat 2", "14 Example Street"],
        "city": "Exampletown",
        "postcode": "ZZ99 3VZ",
    }
    return body


def png_size(image: bytes) -> tuple[int, int]:
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", image[16:24])
    return width, height


STYLES = """JSON.stringify({
  banner: getComputedStyle(document.querySelector('.urgency')).backgroundColor,
  priority: getComputedStyle(document.querySelector('.priority-emergency')).color,
  urgencyBorder: getComputedStyle(document.querySelector('.urgency')).borderTopWidth,
  high: getComputedStyle(document.querySelector('.badge.level-high')).color,
  medium: getComputedStyle(document.querySelector('.badge.level-medium')).color,
  columns: getComputedStyle(document.querySelector('.decide')).gridTemplateColumns,
  isolation: [...document.querySelectorAll('bdi')].map(e => getComputedStyle(e).unicodeBidi),
  sheets: document.styleSheets.length,
})"""

# What a crisis clinician decides on, each by the element that shows it.
ABOVE_THE_FOLD = {
    "priority": "h1 .priority",
    "respond-by": "#respond-by .respond",
    "overdue": "#respond-by .overdue",
    "overdue-on-receipt": "#overdue-on-receipt",
    "request": "#request .ask",
    "call-back number": "#sender-contact .callback a",
    "what has changed": "#what-has-changed .text",
    "highest risk": "#key-risks li:first-child",
}
# Each element's box in the viewport, and whether it is what the browser shows at its
# centre (not covered, not clipped away), by CSS selector.
BOXES = """(selectors => JSON.stringify(Object.fromEntries(Object.entries(selectors).map(
  ([name, selector]) => {
    const found = document.querySelector(selector);
    if (!found) return [name, null];
    const box = found.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return [name, {top: box.top, bottom: box.bottom, width: box.width, height: box.height,
                   shown: hit !== null && (hit === found || found.contains(hit)),
                   text: found.innerText}];
  }))))(%s)"""
FOLD = 800


def above_the_fold(browser: Page, selectors: dict[str, str]) -> dict[str, Any]:
    """The boxes of `selectors`, asserting each is shown whole within the first 800px."""
    boxes: dict[str, Any] = json.loads(browser.evaluate(BOXES % json.dumps(selectors)))
    for name, box in boxes.items():
        assert box is not None, f"{name}: not on the page"
        assert box["width"] > 0, f"{name}: not shown"
        assert box["height"] > 0, f"{name}: not shown"
        assert box["top"] >= 0, name
        assert box["bottom"] <= FOLD, f"{name}: ends at {box['bottom']}px, below the fold"
        assert box["shown"], f"{name}: covered or clipped"
    return boxes


# An empty store of its own: what earlier tests in this worker left (another key's
# checkpoints, say) is no part of this test.
@pytest.mark.usefixtures("database")
def test_a_browser_shows_the_served_page_styled_with_what_decides_above_the_fold(
    database_url: str, tmp_path: Path
) -> None:
    with running_server(database_url) as base:
        provider = served_token(base)
        created = httpx.post(
            f"{base}/api/escalations",
            content=json.dumps(overdue_emergency_escalation()),
            headers={**provider, "Content-Type": "application/json"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        assert created.json()["overdue"] is True
        communication = created.json()["resources"]["Communication"]
        url = f"{base}/fhir/{communication}/$summary?_format=html"
        trust = served_token(base, "demo-trust-crisis")
        with chromium(tmp_path / "profile") as browser:
            loaded = browser.load(url, headers=trust, width=1280, height=FOLD)
            styles = json.loads(browser.evaluate(STYLES))
            boxes = above_the_fold(browser, {**ABOVE_THE_FOLD, "ladder": "#ladder p"})
            sent_to = json.loads(browser.evaluate(BOXES % json.dumps({"to": "#receiver"})))
            screenshot = browser.screenshot()
            served = browser.evaluate("document.documentElement.outerHTML")
    assert loaded.status == 200
    assert_page_policy(loaded.headers["content-security-policy"], served)
    assert_other_security_headers(loaded.headers)
    assert loaded.problems() == []
    # The stylesheet applied: under a policy that blocked it, each is the browser default
    # (black text, a transparent background, a 0px border, one column).
    assert styles["sheets"] == 1
    assert styles["banner"] == RED
    assert styles["priority"] == WHITE
    assert styles["urgencyBorder"] == "3px"
    assert styles["high"] == RED
    assert styles["medium"] == AMBER
    assert len(styles["columns"].split()) == 2
    # Free text is isolated, so a bidi control in it cannot reorder the page around it.
    assert styles["isolation"]
    assert set(styles["isolation"]) == {"isolate"}
    # Above the fold, and saying what it should.
    assert boxes["priority"]["text"].lower() == "emergency"
    # Rounded up, and the page is made a moment after the respond-by was written.
    assert re.search(r"overdue by 2[01] minutes", boxes["overdue"]["text"])
    assert boxes["overdue-on-receipt"]["text"].startswith("Overdue on receipt")
    assert "Crisis team to decide on an urgent home visit today." in boxes["request"]["text"]
    assert boxes["call-back number"]["text"] == "01632 960200"  # the provider's, configured
    assert boxes["what has changed"]["text"].startswith("Missed the agreed 13:00 visit")
    assert "Risk of self-harm" in boxes["highest risk"]["text"]
    # Where it stands on the Trust's ladder (config/demo/ladders.yaml), and whom next.
    assert boxes["ladder"]["text"].startswith(
        "Manager step (Crisis team duty manager, 01632 960101)"
    )
    assert "steps up to the Trust on-call manager, 01632 960102" in boxes["ladder"]["text"]
    # The reader's own organisation is further down.
    assert sent_to["to"]["top"] > FOLD
    (tmp_path / "summary-page.png").write_bytes(screenshot)
    assert png_size(screenshot) == (1280, FOLD)


def test_a_ladder_position_is_above_the_fold_too(tmp_path: Path) -> None:
    """The ladder line at fixed times, as the core renders it (the served page's times
    follow the clock), in the browser at the same size."""
    published = (EXAMPLES / "escalation-manager.json").read_text()
    dataset = parse_dataset(json.loads(published))  # due 15:00 UTC, 21 Nov 2026
    now = datetime(2026, 11, 21, 14, 15, tzinfo=UTC)
    position = LadderPosition(
        level="Manager",
        contact=LadderContact("Crisis team duty manager", "01632 960101"),
        respond_by=datetime(2026, 11, 21, 14, 25, tzinfo=UTC),
        answered=False,
        missed=False,
        next_level="Senior",
        next_contact=LadderContact("Trust on-call manager", "01632 960102"),
    )
    context = SummaryContext(
        "comm-1",
        "sr-1",
        now,
        now,
        incomplete_fields=("sender.contact", "escalation.early_warning_indicators"),
        ladder=position,
        sender_call_back=ConfiguredCallBack("01632 960200", "Duty worker"),
    )
    document = summary_html(dataset, context)
    with chromium(tmp_path / "profile") as browser:
        loaded = browser.load(
            "data:text/html;charset=utf-8," + urllib.parse.quote(document),
            width=1280,
            height=FOLD,
        )
        on_time = {k: v for k, v in ABOVE_THE_FOLD.items() if not k.startswith("overdue")}
        boxes = above_the_fold(browser, {**on_time, "ladder": "#ladder p"})
        (tmp_path / "summary-page-ladder.png").write_bytes(browser.screenshot())
    assert loaded.problems() == []
    assert boxes["ladder"]["text"] == (
        "Manager step (Crisis team duty manager, 01632 960101); if no response by 14:25, "
        "steps up to the Trust on-call manager, 01632 960102"
    )


def test_the_browser_client_reports_a_blocked_style(tmp_path: Path) -> None:
    """The checks above would pass vacuously if violations went unreported: a page whose
    own policy forbids its inline style must show up as a problem, unstyled."""
    page = (
        "<!doctype html><meta http-equiv='Content-Security-Policy' content=\"default-src "
        "'none'\"><style>body{color:red}</style><p>x"
    )
    with chromium(tmp_path / "profile") as browser:
        loaded = browser.load("data:text/html," + urllib.parse.quote(page))
        colour = browser.evaluate("getComputedStyle(document.body).color")
    assert colour == "rgb(0, 0, 0)"
    assert loaded.problems()
