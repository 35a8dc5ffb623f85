"""Headless Chromium driven over its DevTools protocol (CDP), for tests that must see a
page as a browser does: its real response headers, its Content-Security-Policy, its
computed styles and a screenshot. A small synchronous client on `websockets`, which
uvicorn[standard] already installs, so no browser-automation dependency is added."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = "chromium"
_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)
_SERIOUS = ("warning", "error", "assert")


class BrowserError(AssertionError):
    """Chromium could not be started or answered a command with an error."""


@dataclass
class Loaded:
    """What a navigation left behind: the document's response, and every console entry,
    log entry and DevTools issue (a CSP violation is reported as all three)."""

    status: int
    headers: dict[str, str]  # names lower-cased
    events: list[dict[str, Any]] = field(default_factory=list)

    def problems(self) -> list[dict[str, Any]]:
        """Log and console entries at warning or error level, and every DevTools issue."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if (
                method == "Audits.issueAdded"
                or (method == "Log.entryAdded" and params["entry"]["level"] in _SERIOUS)
                or (method == "Runtime.consoleAPICalled" and params["type"] in _SERIOUS)
            ):
                found.append(params)
        return found


class Page:
    """One tab, attached with a flat session over the browser's websocket."""

    def __init__(self, connection: ClientConnection, session_id: str) -> None:
        self._connection = connection
        self._session_id = session_id
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return _call(self._connection, next(self._ids), method, params, self._session_id, self)

    def record(self, event: dict[str, Any]) -> None:
        self._events.append(event)

    def _wait_for(self, method: str, deadline: float) -> dict[str, Any]:
        while True:
            for event in self._events:
                if event["method"] == method:
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no {method} in time")
            message = json.loads(self._connection.recv(timeout=remaining))
            if message.get("sessionId") == self._session_id and "method" in message:
                self._events.append(message)

    def load(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        width: int = 1280,
        height: int = 900,
        timeout: float = 30.0,
    ) -> Loaded:
        """Navigate to `url` with `headers` on every request, at a `width` x `height`
        viewport, and wait for the load event (and a moment for late reports)."""
        for domain in ("Page", "Runtime", "Log", "Network", "Audits"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        if headers:
            self.send("Network.setExtraHTTPHeaders", headers=headers)
        self._events.clear()
        navigated = self.send("Page.navigate", url=url)
        if "errorText" in navigated:
            raise BrowserError(f"navigation failed: {navigated['errorText']}")
        self._wait_for("Page.loadEventFired", time.monotonic() + timeout)
        # Issues and log entries can trail the load event by a few milliseconds.
        self.evaluate("new Promise(resolve => setTimeout(resolve, 300))")
        document = next(
            event["params"]["response"]
            for event in self._events
            if event["method"] == "Network.responseReceived"
            and event["params"]["type"] == "Document"
        )
        return Loaded(
            status=int(document["status"]),
            headers={name.lower(): value for name, value in document["headers"].items()},
            events=list(self._events),
        )

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        answer = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"evaluation failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        shot = self.send("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


def _call(
    connection: ClientConnection,
    call_id: int,
    method: str,
    params: dict[str, Any],
    session_id: str | None = None,
    page: Page | None = None,
    timeout: float = 30.0,
) -> dict[str, Any]:
    message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
    if session_id is not None:
        message["sessionId"] = session_id
    connection.send(json.dumps(message))
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrowserError(f"{method}: no answer in time")
        answer = json.loads(connection.recv(timeout=remaining))
        if answer.get("id") == call_id and answer.get("sessionId") == session_id:
            if "error" in answer:
                raise BrowserError(f"{method}: {answer['error']}")
            result: dict[str, Any] = answer.get("result", {})
            return result
        if page is not None and "method" in answer and answer.get("sessionId") == session_id:
            page.record(answer)


def chromium_path() -> str:
    """Chromium on PATH; `make unit` installs it on a fresh machine, so never a skip."""
    found = shutil.which(CHROMIUM)
    if found is None:
        raise BrowserError(
            "chromium is not on PATH: run `make unit` (it installs it as root) or "
            "`apt-get install chromium`"
        )
    return found


@contextmanager
def chromium(profile: Path) -> Iterator[Page]:
    """A fresh headless Chromium with its own profile directory, and one blank tab."""
    profile.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [chromium_path(), *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = _devtools_endpoint(profile, process)
        with connect(endpoint, max_size=None, open_timeout=30) as connection:
            ids = itertools.count(1)
            target = _call(connection, next(ids), "Target.createTarget", {"url": "about:blank"})
            attached = _call(
                connection,
                next(ids),
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
            )
            yield Page(connection, attached["sessionId"])
    finally:
        process.kill()
        process.wait(timeout=30)


def _devtools_endpoint(profile: Path, process: subprocess.Popen[bytes]) -> str:
    """The browser's websocket URL, from the DevToolsActivePort file Chromium writes
    once it listens (port 0 lets it choose a free one)."""
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"chromium exited with {process.returncode}")
        lines = active.read_text().splitlines() if active.exists() else []
        if len(lines) >= 2:
            return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    raise BrowserError("chromium did not open its DevTools port")
