"""Who produced the resources of a dataset, and from what: a Provenance naming every
resource made, the sending organisation as author, the receiver as recipient, and the
dataset as received by its SHA-256, so anyone holding those bytes can show they are the
source of these resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mappings import codes
from mappings.dataset_fhir.elements import ResourceIds, instant, organisation, reference
from mappings.datasets import EscalationSummary, Handover


def provenance(
    dataset: Handover | EscalationSummary,
    ids: ResourceIds,
    received_at: datetime,
    dataset_sha256: str,
) -> dict[str, Any]:
    kind = codes.DATASET_KINDS[dataset.dataset].display
    targets = [
        reference("ServiceRequest", ids.service_request),
        *(reference("Flag", flag) for flag in ids.flags),
        reference("Communication", ids.communication),
    ]
    return {
        "resourceType": "Provenance",
        "id": ids.provenance,
        "target": targets,
        "recorded": instant(received_at),
        "agent": [
            {
                "type": {"coding": [codes.PROVENANCE_AUTHOR.coding()]},
                "who": organisation(dataset.sender.ods),
            },
            {
                "type": {"coding": [codes.AGENT_INFORMATION_RECIPIENT.coding()]},
                "who": organisation(dataset.receiver.ods),
            },
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {
                        "system": codes.DATASET_SHA256_SYSTEM,
                        "value": dataset_sha256,
                    },
                    "display": f"{kind} dataset as received",
                },
            }
        ],
    }
