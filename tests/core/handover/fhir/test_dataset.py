"""from_fhir: the ServiceRequest, its Flags and its Communication read back as the dataset,
and refused (ContentError) where they do not carry a valid one."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from core.codes import handover as handover_codes
from core.fhir.issues import ContentError, IssueCode
from core.handover.dataset import EscalationSummary, Handover
from core.handover.fhir.dataset import from_fhir
from tests.core.handover.fhir.support import (
    dataset,
    escalation,
    handover,
    minimal,
    resources,
)


def refused(service_request: Any, flags: Any, communication: Any) -> ContentError:
    with pytest.raises(ContentError) as raised:
        from_fhir(service_request, flags, communication)
    return raised.value


@pytest.mark.parametrize(
    "category",
    [
        None,
        [],
        [{"coding": [handover_codes.PATHWAYS["crisis"].coding()]}],
        [{"text": "Handover"}],
        [{"coding": [{"system": handover_codes.DATASET_KINDS["handover"].system}]}],
    ],
    ids=["absent", "empty", "other-system", "text-only", "no-code"],
)
def test_a_communication_without_the_dataset_kind_category_is_refused(category: Any) -> None:
    made = resources(handover())
    communication = copy.deepcopy(made.communication)
    if category is None:
        del communication["category"]
    else:
        communication["category"] = category
    error = refused(made.service_request, made.flags, communication)
    (issue,) = error.issues
    assert issue.expression == "Communication.category"
    assert issue.code is IssueCode.REQUIRED


@pytest.mark.parametrize("number", ["9434765918", "943476591", "0000000000", "94347659I9"])
def test_an_invalid_nhs_number_in_fhir_is_refused(number: str) -> None:
    made = resources(handover())
    request = copy.deepcopy(made.service_request)
    request["subject"]["identifier"]["value"] = number
    error = refused(request, made.flags, made.communication)
    (issue,) = error.issues
    assert issue.expression == "patient.nhs_number"
    assert number not in issue.diagnostics


def test_a_request_without_its_subject_is_refused_naming_the_nhs_number() -> None:
    made = resources(handover())
    request = {key: value for key, value in made.service_request.items() if key != "subject"}
    error = refused(request, made.flags, made.communication)
    assert [issue.expression for issue in error.issues] == ["patient.nhs_number"]
    # A reference alone carries no identifier to read: the same.
    request["subject"] = {"reference": "Patient/p1"}
    error = refused(request, made.flags, made.communication)
    assert [issue.expression for issue in error.issues] == ["patient.nhs_number"]


@pytest.mark.parametrize(
    ("system", "field"),
    [
        ("http://fhir.nhs.uk/Id/nhs-number", "patient.local_identifier.system"),
        (None, "patient.local_identifier.system"),
    ],
    ids=["near-miss-of-the-nhs-number", "no-system"],
)
def test_a_subject_in_any_other_system_is_read_as_a_local_identifier_and_checked(
    system: str | None, field: str
) -> None:
    """Read as the sender's local identifier, so its system is held to a local system's
    rules (and then to the sender's registration): never taken for an NHS number."""
    made = resources(handover())
    request = copy.deepcopy(made.service_request)
    identifier = request["subject"]["identifier"]
    if system is None:
        del identifier["system"]
    else:
        identifier["system"] = system
    error = refused(request, made.flags, made.communication)
    assert field in [issue.expression for issue in error.issues]


@pytest.mark.parametrize(
    "made",
    [handover(), escalation(), dataset(minimal()), dataset(minimal("escalation"))],
    ids=["handover", "escalation", "minimal-handover", "minimal-escalation"],
)
def test_the_resources_read_back_as_the_dataset(made: Handover | EscalationSummary) -> None:
    built = resources(made)
    assert from_fhir(built.service_request, built.flags, built.communication) == made


def test_a_handover_category_reads_as_a_handover_and_an_escalation_as_an_escalation() -> None:
    built = resources(escalation())
    assert isinstance(
        from_fhir(built.service_request, built.flags, built.communication), EscalationSummary
    )
    built = resources(handover())
    assert isinstance(from_fhir(built.service_request, built.flags, built.communication), Handover)


def test_flags_are_read_as_the_key_risks_in_the_order_given() -> None:
    built = resources(handover())
    back = from_fhir(built.service_request, tuple(reversed(built.flags)), built.communication)
    assert [risk.type for risk in back.key_risks] == ["exploitation", "self-harm"]


def test_related_referral_is_any_other_service_request_in_based_on() -> None:
    built = resources(escalation(related_referral="sr-earlier-1"))
    back = from_fhir(built.service_request, built.flags, built.communication)
    assert isinstance(back, EscalationSummary)
    assert back.escalation.related_referral == "sr-earlier-1"


def test_the_request_named_by_its_message_full_url_is_not_the_related_referral() -> None:
    # In a message bundle the Communication names its ServiceRequest by fullUrl.
    full_url = "urn:uuid:6f1c2a9e-3b7d-4c55-9a1e-2d8f0b7c4e11"
    built = resources(escalation(related_referral="sr-earlier-1"))
    communication = copy.deepcopy(built.communication)
    communication["basedOn"][0] = {"reference": full_url}
    back = from_fhir(
        built.service_request,
        built.flags,
        communication,
        service_request_references=[full_url],
    )
    assert isinstance(back, EscalationSummary)
    assert back.escalation.related_referral == "sr-earlier-1"


def test_a_fhir_priority_outside_the_table_is_read_as_no_priority() -> None:
    built = resources(handover())
    request = {**built.service_request, "priority": "whenever"}
    back = from_fhir(request, built.flags, built.communication)
    assert back.time_sensitivity is not None
    assert back.time_sensitivity.priority is None
    assert back.time_sensitivity.respond_by is not None
