"""The shipped example action, as `python3 examples/fresh.py safeguarding-action` prints
it: due two days from now, and taken by the real application as it stands."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.paths import REPO
from tests.safeguarding.support import JSON


def test_the_fresh_example_is_due_in_two_days_and_is_accepted(client: TestClient) -> None:
    printed = subprocess.run(
        [sys.executable, str(REPO / "examples" / "fresh.py"), "safeguarding-action"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    body = json.loads(printed)
    left = datetime.fromisoformat(body["deadline"]) - datetime.now(UTC)
    assert timedelta(days=2) - timedelta(minutes=5) < left <= timedelta(days=2)
    raised = client.post("/api/safeguarding/actions", content=printed, headers=JSON)
    assert raised.status_code == 201, raised.text
    assert raised.json()["owner"]["ods"] == "RZZ"
    assert raised.json()["requester"]["ods"] == "AZZ"
