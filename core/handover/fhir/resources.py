"""A dataset as the FHIR resources the gateway stores for it, in the order they are
written: the request, its risk flags, the communication, and their provenance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.handover.dataset import EscalationSummary, Handover
from core.handover.fhir.communication import communication
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.flags import flags
from core.handover.fhir.provenance import provenance
from core.handover.fhir.service_request import service_request


@dataclass(frozen=True, slots=True)
class DatasetResources:
    service_request: dict[str, Any]
    flags: tuple[dict[str, Any], ...]
    communication: dict[str, Any]
    provenance: dict[str, Any]

    def all(self) -> list[dict[str, Any]]:
        return [self.service_request, *self.flags, self.communication, self.provenance]


def to_fhir(
    dataset: Handover | EscalationSummary,
    ids: ResourceIds,
    *,
    received_at: datetime,
    dataset_sha256: str,
    gaps: Sequence[str] = (),
    overdue: bool = False,
) -> DatasetResources:
    """The resources for `dataset`, under `ids`. `gaps`, the field paths the referral
    checklist found missing when it accepted the dataset with warnings, are carried on
    the ServiceRequest (tagged incomplete); `overdue` tags it overdue on receipt."""
    return DatasetResources(
        service_request=service_request(dataset, ids, received_at, gaps=gaps, overdue=overdue),
        flags=tuple(flags(dataset, ids.flags)),
        communication=communication(dataset, ids, received_at),
        provenance=provenance(dataset, ids, received_at, dataset_sha256),
    )
