"""Golden files: each dataset in tests/core/handover/golden maps to exactly its .fhir.json, and
every output keeps the mapping's rules and is valid FHIR R4."""

from __future__ import annotations

import difflib
import json
from typing import get_args

import pytest

from core.handover.dataset import EscalationLevel, EscalationSummary, Pathway, Priority, RiskType
from gateway.fhir.storage import validated
from tests.core.handover.fhir import golden
from tests.core.handover.fhir.rules import assert_rules
from tests.core.handover.fhir.support import EXAMPLES
from tests.fhir_judge import assert_valid_fhir

CASES = golden.cases()


@pytest.mark.parametrize("case", CASES)
def test_the_output_is_the_golden_file(case: str) -> None:
    expected = json.loads(golden.fhir_path(case).read_text(encoding="utf-8"))
    actual = golden.render(case)
    if actual != expected:
        diff = difflib.unified_diff(
            golden.dumps(expected).splitlines(),
            golden.dumps(actual).splitlines(),
            f"{case}.fhir.json (golden)",
            f"{case} (to_fhir now)",
            lineterm="",
        )
        pytest.fail(
            "to_fhir no longer matches the golden file; if the change is intended, run "
            "`.venv/bin/python -m tests.core.handover.fhir.golden` and review the diff:\n"
            + "\n".join(diff),
            pytrace=False,
        )


@pytest.mark.parametrize("case", CASES)
def test_every_golden_output_keeps_the_rules_and_is_valid_fhir(case: str) -> None:
    dataset, made = golden.resources(case)
    assert_rules(dataset, made)
    for resource in made.all():
        assert_valid_fhir(resource)
        # The gateway stores its mapping's output without validating it again
        # (ResourceService.create_mapped): every check a client's write passes, it
        # passes here, and it is stored exactly as made.
        stored = validated(resource["resourceType"], resource)
        assert stored == {key: value for key, value in resource.items() if key != "id"}


@pytest.mark.parametrize("name", ["handover-crisis", "escalation-manager"])
def test_the_spec_examples_are_golden_cases_as_published(name: str) -> None:
    assert golden.dataset_path(name).read_bytes() == (EXAMPLES / f"{name}.json").read_bytes()


def test_the_golden_cases_cover_every_pathway_risk_priority_and_escalation_level() -> None:
    datasets = [golden.load(case) for case in CASES]
    assert {d.dataset for d in datasets} == {"handover", "escalation"}
    assert {d.pathway for d in datasets} == set(get_args(Pathway))
    assert {r.type for d in datasets for r in d.key_risks} == set(get_args(RiskType))
    priorities = {d.time_sensitivity.priority for d in datasets if d.time_sensitivity}
    assert priorities == set(get_args(Priority))
    levels = {d.escalation.level for d in datasets if isinstance(d, EscalationSummary)}
    assert levels == set(get_args(EscalationLevel))
    # A dataset with only what the models require, for each kind.
    minimal = {
        d.dataset
        for d in datasets
        if d.model_dump(exclude_none=True, exclude_defaults=True).keys()
        <= {"dataset", "external_id", "pathway", "patient", "sender", "receiver", "escalation"}
    }
    assert minimal == {"handover", "escalation"}


def test_every_golden_input_has_its_output_and_nothing_else_is_there() -> None:
    outputs = {path.name.removesuffix(".fhir.json") for path in golden.GOLDEN.glob("*.fhir.json")}
    assert outputs == set(CASES)
    assert 12 <= len(CASES) <= 14
