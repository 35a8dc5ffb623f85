"""The safeguarding action mapping against its golden file, every resource valid against
HL7's R4 JSON schema and the R4 models; and the pure owner rule, case by case."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import product
from typing import Any

import pytest

from core.fhir.parties import is_safeguarding_action, sender_role
from core.safeguarding.transitions import refusal
from gateway.fhir.storage import validated
from tests.core.safeguarding.action_golden import dumps, fhir_path, render, request_path
from tests.fhir_judge import assert_valid_fhir
from tests.paths import REPO


def _resources(rendered: dict[str, Any]) -> list[dict[str, Any]]:
    return [*rendered["tasks"].values(), rendered["provenance"], rendered["contact"]]


def test_the_mapping_matches_its_golden_file() -> None:
    assert dumps(render()) == fhir_path().read_text(encoding="utf-8")


def test_every_resource_is_valid_r4() -> None:
    for resource in _resources(render()):
        assert_valid_fhir(resource)
        validated(resource["resourceType"], resource)


def test_an_action_is_sent_by_its_requester_and_an_answer_by_its_owner() -> None:
    task = render()["tasks"]["raised"]
    assert is_safeguarding_action(task)
    assert sender_role("Task", task).basis == "requester"
    answer = {k: v for k, v in task.items() if k != "code"}
    assert sender_role("Task", answer).basis == "owner"
    assert sender_role("Task").basis == "owner"


STATUSES = ("requested", "accepted", "in-progress", "completed", "cancelled")
MOVES = ("accepted", "in-progress", "completed", "cancelled")
ROLES = (frozenset({"owner"}), frozenset({"requester"}), frozenset())
ALLOWED = {
    ("accepted", "requested", "owner"),
    ("in-progress", "accepted", "owner"),
    ("completed", "in-progress", "owner"),
    ("cancelled", "requested", "requester"),
    ("cancelled", "accepted", "requester"),
    ("cancelled", "in-progress", "requester"),
}


@pytest.mark.parametrize(("move", "current", "roles"), list(product(MOVES, STATUSES, ROLES)))
def test_the_owner_rule(move: Any, current: str, roles: frozenset[str]) -> None:
    refused = refusal(move, current, roles)
    allowed = any((move, current, role) in ALLOWED for role in roles)
    assert (refused is None) == allowed
    if refused is not None and not roles & ({"requester"} if move == "cancelled" else {"owner"}):
        assert refused.kind == "forbidden"


def test_the_golden_request_is_the_example_but_its_deadline() -> None:
    example = json.loads((REPO / "examples" / "safeguarding-action.json").read_text())
    golden = json.loads(request_path().read_text())
    assert {**example, "deadline": None} == {**golden, "deadline": None}
    assert datetime.fromisoformat(golden["deadline"]) > datetime(2026, 11, 25, tzinfo=UTC)
