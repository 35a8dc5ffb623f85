"""Every valid dataset survives the trip to FHIR and back unchanged, and every resource
made on the way keeps the mapping's rules and is valid FHIR R4 (property tests); and
the edge cases those properties found, pinned."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.fhir.issues import ContentError
from core.handover.checklist import FIELD_PATHS
from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from core.handover.fhir.dataset import from_fhir
from core.handover.fhir.resources import DatasetResources, to_fhir
from gateway.fhir.storage import validated
from tests.core.handover.fhir.rules import assert_rules
from tests.core.handover.fhir.strategies import dataset_bodies, instants
from tests.core.handover.fhir.support import RECEIVED_AT, SHA256, ids_for, minimal
from tests.fhir_judge import assert_valid_fhir


def _read(body: dict[str, Any]) -> Handover | EscalationSummary:
    dataset = parse_dataset(body)
    # The gateway's ids are its own; a related referral is an earlier one.
    if isinstance(dataset, EscalationSummary):
        assume(dataset.escalation.related_referral != ids_for(dataset, "prop").service_request)
    return dataset


# What the gateway found on receipt, carried on the ServiceRequest: the checklist's gaps
# (field paths) and whether it came overdue. Mapping back reads neither into the dataset.
_gaps = st.lists(st.sampled_from(FIELD_PATHS), max_size=4).map(tuple)


def _to_fhir(
    dataset: Handover | EscalationSummary,
    received_at: str,
    gaps: tuple[str, ...] = (),
    overdue: bool = False,
) -> DatasetResources:
    return to_fhir(
        dataset,
        ids_for(dataset, "prop"),
        received_at=datetime.fromisoformat(received_at),
        dataset_sha256=SHA256,
        gaps=gaps,
        overdue=overdue,
    )


@settings(deadline=None, max_examples=200)
@given(body=dataset_bodies, received_at=instants(), gaps=_gaps, overdue=st.booleans())
def test_every_valid_dataset_maps_to_fhir_and_back_unchanged(
    body: dict[str, Any], received_at: str, gaps: tuple[str, ...], overdue: bool
) -> None:
    dataset = _read(body)
    made = _to_fhir(dataset, received_at, gaps, overdue)
    # As stored and served: JSON text, read back.
    stored = json.loads(json.dumps(made.all()))
    service_request, *flags, communication, _provenance = stored
    assert from_fhir(service_request, flags, communication) == dataset
    assert_rules(dataset, made)


@settings(deadline=None, max_examples=40)
@given(body=dataset_bodies, received_at=instants(), gaps=_gaps, overdue=st.booleans())
def test_every_resource_made_from_a_valid_dataset_is_valid_fhir(
    body: dict[str, Any], received_at: str, gaps: tuple[str, ...], overdue: bool
) -> None:
    made = _to_fhir(_read(body), received_at, gaps, overdue)
    for resource in made.all():
        assert_valid_fhir(resource)
        # Every check a client's write passes (so storing it unvalidated is safe).
        validated(resource["resourceType"], resource)


# --- Found by the properties above ------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "held"),
    [("EPR\u20281", "EPR 1"), ("  EPR-7\t", "EPR-7"), ("EPR\u00a0418", "EPR 418")],
)
def test_an_external_id_is_plain_text_so_its_identifier_is_valid_fhir(sent: str, held: str) -> None:
    # Before the fix a line separator reached ServiceRequest.identifier.value, which the
    # HL7 schema's string pattern refuses, and surrounding whitespace was kept.
    dataset = parse_dataset({**minimal(), "external_id": sent})
    assert dataset.external_id == held
    made = to_fhir(dataset, ids_for(dataset), received_at=RECEIVED_AT, dataset_sha256=SHA256)
    assert made.service_request["identifier"][0]["value"] == held
    assert_valid_fhir(made.service_request)


@pytest.mark.parametrize("sent", [" ", "\t\n", "EPR\x00418", "EPR\x1b1"])
def test_a_blank_external_id_or_one_with_control_characters_is_refused(sent: str) -> None:
    with pytest.raises(ContentError) as raised:
        parse_dataset({**minimal(), "external_id": sent})
    assert [issue.expression for issue in raised.value.issues] == ["external_id"]


@pytest.mark.parametrize("instant", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_an_instant_outside_the_years_utc_can_hold_is_refused_not_a_crash(instant: str) -> None:
    # Before the fix, converting to UTC raised OverflowError out of parse_dataset.
    body = {**minimal(), "time_sensitivity": {"respond_by": instant}}
    with pytest.raises(ContentError) as raised:
        parse_dataset(body)
    (issue,) = raised.value.issues
    assert issue.expression == "time_sensitivity.respond_by"
    assert instant not in issue.diagnostics
