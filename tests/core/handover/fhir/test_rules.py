"""The rule checker itself: it passes a faithful mapping and catches each kind of break,
so that a green golden or property test means something."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from core.codes import handover as handover_codes
from core.handover.fhir.resources import DatasetResources
from tests.core.handover.fhir.rules import known_codings, problems
from tests.core.handover.fhir.support import escalation, resources


def broken(change: Callable[[DatasetResources], None]) -> list[str]:
    made = resources(escalation(related_referral="sr-earlier-1"))
    copied = DatasetResources(
        copy.deepcopy(made.service_request),
        copy.deepcopy(made.flags),
        copy.deepcopy(made.communication),
        copy.deepcopy(made.provenance),
    )
    change(copied)
    return problems(escalation(related_referral="sr-earlier-1"), copied)


def test_a_faithful_mapping_breaks_no_rule() -> None:
    assert broken(lambda made: None) == []


def _set(path: list[Any], value: Any) -> Callable[[DatasetResources], None]:
    """A change setting the element at `path` (a part of to_fhir's result, then keys and
    positions) to `value`."""

    def change(made: DatasetResources) -> None:
        node: Any = getattr(made, path[0])
        for step in path[1:-1]:
            node = node[step]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (
            _set(["provenance", "target", 0], {"reference": "ServiceRequest/elsewhere"}),
            "not in the set",
        ),
        (
            _set(["communication", "basedOn", 1], {"reference": "ServiceRequest/other"}),
            "not in the set",
        ),
        (_set(["service_request", "note"], []), "empty element"),
        (_set(["service_request", "performerType"], {}), "empty element"),
        (_set(["communication", "payload", 0, "contentString"], " \t"), "empty element"),
        (_set(["service_request", "note", 0, "text"], "something else"), "request.summary"),
        (
            _set(["service_request", "occurrencePeriod", "end"], "2026-11-21T15:00:01Z"),
            "respond_by",
        ),
        (_set(["service_request", "priority"], "asap"), "priority"),
        (_set(["service_request", "category", 0, "coding", 0, "code"], "crisis-ish"), "pathway"),
        (
            _set(
                ["flags", 0, "code", "coding", 0],
                {"system": handover_codes.SNOMED_SYSTEM, "code": "1"},
            ),
            "SNOMED",
        ),
        (
            _set(
                ["flags", 0, "code", "coding", 0],
                {"system": "http://loinc.org", "code": "1-1", "display": "x"},
            ),
            "not defined in core/codes.py",
        ),
    ],
)
def test_each_break_is_caught(change: Callable[[DatasetResources], None], words: str) -> None:
    found = broken(change)
    assert any(words in problem for problem in found), found


def test_a_boolean_must_be_a_value_boolean_in_a_dataset_entry() -> None:
    def drop_consent(made: DatasetResources) -> None:
        for item in made.communication["payload"]:
            for extension in item["extension"]:
                if extension["url"] == handover_codes.EXTENSION_DATASET_ENTRY:
                    extension["extension"] = [
                        part for part in extension["extension"] if part["url"] != "consent_obtained"
                    ]

    assert any("consent_obtained" in problem for problem in broken(drop_consent))


def test_snomed_on_a_risk_type_without_a_code_is_caught() -> None:
    def relabel(made: DatasetResources) -> None:
        # The SNOMED code for self-harm, left on a flag now typed as exploitation.
        made.flags[0]["code"]["coding"][1] = handover_codes.RISK_TYPES["exploitation"].coding()

    assert any("SNOMED CT 401206008" in problem for problem in broken(relabel))


def test_the_known_codings_include_every_dataset_code_system() -> None:
    known = known_codings()
    for table in (
        handover_codes.PATHWAYS,
        handover_codes.RISK_TYPES,
        handover_codes.HANDOVER_SECTIONS,
        handover_codes.RISK_SNOMED,
    ):
        assert all((c.system, c.code, c.display) in known for c in table.values())
    assert (
        handover_codes.INCOMPLETE.system,
        handover_codes.INCOMPLETE.code,
        handover_codes.INCOMPLETE.display,
    ) in known
