"""One Flag per key risk: active, a safety flag, coded by the gateway's risk type and by
SNOMED CT only where handover_codes.RISK_SNOMED has a code, with its level, start and
description."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from core.codes import common as codes
from core.codes import handover as handover_codes
from core.handover.dataset import RiskType
from core.handover.fhir.flags import flags
from tests.core.handover.fhir.support import escalation, handover, resources

ODS = codes.ODS_ORGANISATION_SYSTEM


def extensions(flag: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [extension for extension in flag.get("extension", []) if extension["url"] == url]


@pytest.mark.parametrize("risk_type", get_args(RiskType))
def test_a_flag_is_coded_by_snomed_only_where_a_code_is_defined(risk_type: str) -> None:
    made = resources(handover(key_risks=[{"type": risk_type}]))
    (flag,) = made.flags
    codings = flag["code"]["coding"]
    snomed = [coding for coding in codings if coding["system"] == handover_codes.SNOMED_SYSTEM]
    expected = handover_codes.RISK_SNOMED.get(risk_type)
    assert snomed == ([expected.coding()] if expected else [])
    assert handover_codes.RISK_TYPES[risk_type].coding() in codings
    assert len(codings) == len(snomed) + 1


def test_snomed_is_defined_for_self_harm_suicide_and_harm_to_others_only() -> None:
    # The list the code comments justify; a new entry needs a published source.
    assert set(handover_codes.RISK_SNOMED) == {"self-harm", "suicide", "harm-to-others"}


def test_one_flag_per_risk_in_order_under_the_ids_given() -> None:
    made = resources(handover())
    assert [flag["id"] for flag in made.flags] == ["flag-t-1", "flag-t-2"]
    risk_system = handover_codes.RISK_TYPES["other"].system
    types = [
        coding["code"]
        for flag in made.flags
        for coding in flag["code"]["coding"]
        if coding["system"] == risk_system
    ]
    assert types == ["self-harm", "exploitation"]


def test_a_flag_carries_level_start_description_subject_and_author() -> None:
    (first, _) = resources(handover()).flags
    assert first["status"] == "active"
    assert first["category"] == [{"coding": [handover_codes.FLAG_CATEGORY_SAFETY.coding()]}]
    assert extensions(first, handover_codes.EXTENSION_RISK_LEVEL) == [
        {
            "url": handover_codes.EXTENSION_RISK_LEVEL,
            "valueCoding": handover_codes.RISK_LEVELS["high"].coding(),
        }
    ]
    assert first["period"] == {"start": "2026-11-19"}
    assert first["code"]["text"] == "Superficial cuts found today; previous overdose in 2025."
    assert first["subject"]["identifier"]["value"] == "9434765919"
    assert first["author"] == {
        "identifier": {"system": codes.ODS_ORGANISATION_SYSTEM, "value": "AZZ"}
    }


def test_a_risk_with_only_its_type_has_no_level_period_or_text() -> None:
    (flag,) = resources(handover(key_risks=[{"type": "other"}])).flags
    assert extensions(flag, handover_codes.EXTENSION_RISK_LEVEL) == []
    assert "period" not in flag
    assert "text" not in flag["code"]


def test_no_risks_no_flags() -> None:
    made = resources(handover(key_risks=[]))
    assert made.flags == ()
    assert all(not target["reference"].startswith("Flag/") for target in made.provenance["target"])


def test_each_risk_needs_exactly_one_id() -> None:
    with pytest.raises(ValueError, match="zip"):
        flags(handover(), ("flag-1",))


@pytest.mark.parametrize(
    ("escalated_to", "recipients"),
    [(None, ["RZZ"]), ({"ods": "RZZ"}, ["RZZ"]), ({"ods": "RZY"}, ["RZZ", "RZY"])],
)
def test_a_flag_names_every_organisation_it_is_shared_with(
    escalated_to: dict[str, str] | None, recipients: list[str]
) -> None:
    # R4 Flag has no recipient element: the receiver (and an escalation's other
    # organisation) must still be a party to it.
    for flag in resources(escalation(escalated_to=escalated_to)).flags:
        assert extensions(flag, handover_codes.EXTENSION_RECIPIENT) == [
            {
                "url": handover_codes.EXTENSION_RECIPIENT,
                "valueReference": {"identifier": {"system": ODS, "value": ods}},
            }
            for ods in recipients
        ]
