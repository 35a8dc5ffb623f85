"""Builders for the dataset_fhir tests: datasets from the spec examples or from a minimal
body, the resources made from them under fixed ids, and Modulus 11 NHS numbers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.resources import DatasetResources, to_fhir
from tests.paths import EXAMPLES

RECEIVED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHA256 = "0f" * 32
MODULUS_11_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def nhs_number(first_nine: str) -> str | None:
    """The NHS number with these nine digits and its check digit; None when the check
    digit would be 10 (never issued)."""
    total = sum(
        int(digit) * weight for digit, weight in zip(first_nine, MODULUS_11_WEIGHTS, strict=True)
    )
    check = (11 - total % 11) % 11
    return None if check == 10 else first_nine + str(check)


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return body


def minimal(kind: str = "handover") -> dict[str, Any]:
    """Only what the models require."""
    body: dict[str, Any] = {
        "dataset": kind,
        "external_id": "EPR-MIN-1",
        "pathway": "referral",
        "patient": {"nhs_number": "9990000018"},
        "sender": {"ods": "AZZ"},
        "receiver": {"ods": "RZZ"},
    }
    if kind == "escalation":
        body["escalation"] = {"level": "front-line"}
    return body


def dataset(body: dict[str, Any]) -> Handover | EscalationSummary:
    return parse_dataset(copy.deepcopy(body))


def handover(**changes: Any) -> Handover:
    body = example("handover-crisis")
    body.update(changes)
    made = dataset(body)
    assert isinstance(made, Handover)
    return made


def escalation(top: dict[str, Any] | None = None, **changes: Any) -> EscalationSummary:
    """The spec's escalation example, with `top` fields and escalation `changes` changed."""
    body = example("escalation-manager")
    body.update(top or {})
    body["escalation"].update(changes)
    made = dataset(body)
    assert isinstance(made, EscalationSummary)
    return made


def ids_for(made: Handover | EscalationSummary, name: str = "t") -> ResourceIds:
    return ResourceIds(
        service_request=f"sr-{name}",
        communication=f"comm-{name}",
        provenance=f"prov-{name}",
        flags=tuple(f"flag-{name}-{n}" for n in range(1, len(made.key_risks) + 1)),
    )


def resources(
    made: Handover | EscalationSummary,
    *,
    gaps: tuple[str, ...] = (),
    overdue: bool = False,
    received_at: datetime = RECEIVED_AT,
    sha256: str = SHA256,
) -> DatasetResources:
    return to_fhir(
        made,
        ids_for(made),
        received_at=received_at,
        dataset_sha256=sha256,
        gaps=gaps,
        overdue=overdue,
    )
