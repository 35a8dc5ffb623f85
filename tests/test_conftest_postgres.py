"""The suite must fail, with instructions, when PostgreSQL cannot be reached: a silent
skip would let half the store tests vanish from CI."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.paths import REPO


def test_an_unreachable_postgres_fails_the_run_and_says_how_to_fix_it() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/web/test_health.py::test_healthz_answers_while_the_process_is_up[postgresql]",
        ],
        cwd=REPO,
        env={**os.environ, "GATEWAY_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "skipped" not in result.stdout
    assert "GATEWAY_TEST_POSTGRES_URL" in result.stdout
