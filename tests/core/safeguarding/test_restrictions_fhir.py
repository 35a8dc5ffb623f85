"""A restriction as a Flag and back: the golden files (API JSON in, FHIR out) for each
stage of a restriction's life, and the round trip of every restriction a caller can
bring about (hypothesis), each Flag valid against HL7's R4 schema and fhir.resources."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from core.codes import restrictions as restriction_codes
from core.safeguarding.restrictions import Restriction
from core.safeguarding.restrictions_fhir import is_restriction, restriction, to_flag
from core.sharing.facts import data_category
from tests.core.safeguarding.restriction_golden import GOLDEN, cases
from tests.core.safeguarding.strategies import restrictions
from tests.fhir_judge import assert_valid_fhir

CASES = sorted(cases())


@pytest.mark.parametrize("case", CASES)
def test_each_golden_restriction_maps_to_its_golden_flag_and_back(case: str) -> None:
    api = json.loads((GOLDEN / f"{case}.restriction.json").read_text())
    flag = json.loads((GOLDEN / f"{case}.fhir.json").read_text())
    made = Restriction.model_validate(api)
    assert to_flag(made) == flag
    assert restriction(flag) == made
    assert restriction(flag).as_json() == api
    assert_valid_fhir(flag)


def test_the_golden_files_are_the_cases_the_rules_make() -> None:
    for case, made in cases().items():
        api = json.loads((GOLDEN / f"{case}.restriction.json").read_text())
        assert made.as_json() == api, (
            f"regenerate: python -m tests.core.safeguarding.restriction_golden ({case})"
        )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(restrictions())
def test_every_restriction_round_trips_through_a_valid_flag(made: Restriction) -> None:
    flag = to_flag(made)
    assert restriction(flag) == made
    # The API JSON of it too: JSON -> model -> FHIR -> model -> JSON.
    assert restriction(to_flag(Restriction.model_validate(made.as_json()))).as_json() == (
        made.as_json()
    )
    assert_valid_fhir(flag)
    assert is_restriction(flag)
    # Shared only under agreements that cover safeguarding data.
    assert data_category("Flag", flag) == "safeguarding"
    assert flag["status"] == ("inactive" if made.status == "ended" else "active")


def test_a_risk_flag_is_not_a_restriction() -> None:
    risk = {
        "resourceType": "Flag",
        "status": "active",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "safety",
                    }
                ]
            }
        ],
        "code": {"text": "Risk of self-harm"},
    }
    assert not is_restriction(risk)
    category = restriction_codes.FLAG_CATEGORY_RESTRICTION
    marked = risk | {"category": [{"coding": [{"system": category.system, "code": category.code}]}]}
    assert is_restriction(marked)
