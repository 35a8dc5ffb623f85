"""A small repository on disk for the safety-case tool's tests: one test module, one
page, and a hazard log that names them."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml

TEST_MODULE = """
import pytest


def test_direct():
    pass


async def test_asynchronous():
    pass


def helper():
    pass


@pytest.mark.parametrize("n", [1, 2])
def test_parametrised(n):
    pass


class TestGroup:
    def test_method(self):
        pass

    class TestInner:
        def test_nested(self):
            pass


class TestNotCollected:
    def __init__(self):
        pass

    def test_hidden(self):
        pass


class Helper:
    def test_not_in_a_test_class(self):
        pass
"""


def control(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "design",
        "owner": "manufacturer",
        "summary": "The gateway refuses it.",
        "tests": ["tests/test_sample.py::test_direct"],
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def hazard(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "H01",
        "title": "A crisis handover is refused",
        "status": "transferred",
        "description": "What can go wrong.",
        "causes": ["A cause."],
        "effects": ["An effect."],
        "initial": {"likelihood": "high", "consequence": "major", "rating": 4},
        "residual": {"likelihood": "low", "consequence": "major", "rating": 3},
        "mitigated_by": ["issue 5"],
        "controls": [
            control(),
            control(
                kind="business process change",
                owner="deployer",
                summary="The Trust telephones.",
                tests=None,
                documents=["docs/page.md#what-the-deployer-does"],
            ),
        ],
    }
    base.update(overrides)
    return base


def hazard_log(*hazards: dict[str, Any]) -> dict[str, Any]:
    return {
        "system": "the gateway",
        "version": "1.0",
        "reviewed": "2026-12-07",
        "scope": "The gateway.",
        "intended_use": "Handovers.",
        "hazards": list(hazards) or [hazard()],
    }


def make_repository(root: Path, log: dict[str, Any] | None = None) -> Path:
    """Write the repository under `root` and return the hazard log's path."""
    (root / "tests").mkdir(parents=True, exist_ok=True)
    (root / "tests" / "test_sample.py").write_text(textwrap.dedent(TEST_MODULE))
    (root / "tests" / "helpers.py").write_text("def test_looks_like_one():\n    pass\n")
    (root / "docs" / "safety").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "page.md").write_text("# A page\n\n## What the deployer does\n\nIt acts.\n")
    path = root / "docs" / "safety" / "hazard-log.yaml"
    write_log(path, log if log is not None else hazard_log())
    return path


def write_log(path: Path, log: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(log, sort_keys=False))
