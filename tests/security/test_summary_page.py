"""The crisis summary page as served: its response header policy allows exactly the page's
own stylesheet (by hash) and nothing else, every other response keeps the strict default,
and a real browser, loading the page from a real `gateway serve` with its real headers,
shows the urgency and risk colours the stylesheet sets, with no policy violation."""

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

from tests.browser import chromium
from tests.handovers.test_routes import example, push
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


def emergency_handover() -> dict[str, Any]:
    """The crisis example made an emergency, due two hours from now on the wall clock the
    real server also reads, under a new external id."""
    body = example("handover-crisis")
    body["external_id"] = f"EPR-{uuid.uuid4().hex[:12]}"
    body["time_sensitivity"] = {
        "priority": "emergency",
        "respond_by": (datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds"),
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
  bodyWidth: getComputedStyle(document.body).maxWidth,
  isolation: [...document.querySelectorAll('bdi')].map(e => getComputedStyle(e).unicodeBidi),
  sheets: document.styleSheets.length,
})"""


# An empty store of its own: what earlier tests in this worker left (another key's
# checkpoints, say) is no part of this test.
@pytest.mark.usefixtures("database")
def test_a_browser_shows_the_served_page_styled_with_no_policy_violation(
    database_url: str, tmp_path: Path
) -> None:
    with running_server(database_url) as base:
        provider = served_token(base)
        created = httpx.post(
            f"{base}/api/handovers",
            content=json.dumps(emergency_handover()),
            headers={**provider, "Content-Type": "application/json"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        communication = created.json()["resources"]["Communication"]
        url = f"{base}/fhir/{communication}/$summary?_format=html"
        trust = served_token(base, "demo-trust-crisis")
        with chromium(tmp_path / "profile") as browser:
            loaded = browser.load(url, headers=trust, width=1280, height=900)
            styles = json.loads(browser.evaluate(STYLES))
            screenshot = browser.screenshot()
            served = browser.evaluate("document.documentElement.outerHTML")
    assert loaded.status == 200
    assert_page_policy(loaded.headers["content-security-policy"], served)
    assert_other_security_headers(loaded.headers)
    assert loaded.problems() == []
    # The stylesheet applied: under a policy that blocked it, each is the browser default
    # (black text, a transparent background, a 0px border, no maximum width).
    assert styles["sheets"] == 1
    assert styles["banner"] == RED
    assert styles["priority"] == WHITE
    assert styles["urgencyBorder"] == "3px"
    assert styles["high"] == RED
    assert styles["medium"] == AMBER
    assert styles["bodyWidth"] == "736px"
    # Free text is isolated, so a bidi control in it cannot reorder the page around it.
    assert styles["isolation"]
    assert set(styles["isolation"]) == {"isolate"}
    (tmp_path / "summary-page.png").write_bytes(screenshot)
    assert png_size(screenshot) == (1280, 900)


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
