"""Who produced the resources of a dataset, and from what: a Provenance naming every
resource made, the sending organisation as author, the receiver as recipient, and the
dataset as received by its SHA-256, so anyone holding those bytes can show they are the
source of these resources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.codes import audit as audit_codes
from core.codes import handover as handover_codes
from core.fhir.dates import format_instant
from core.handover.dataset import EscalationSummary, Handover
from core.handover.fhir.elements import (
    ResourceIds,
    data_category_tags,
    organisation,
    recipients,
    reference,
)


def provenance(
    dataset: Handover | EscalationSummary,
    ids: ResourceIds,
    received_at: datetime,
    dataset_sha256: str,
) -> dict[str, Any]:
    kind = handover_codes.DATASET_KINDS[dataset.dataset].display
    targets = [
        reference("ServiceRequest", ids.service_request),
        *(reference("Flag", flag) for flag in ids.flags),
        reference("Communication", ids.communication),
    ]
    resource: dict[str, Any] = {"resourceType": "Provenance", "id": ids.provenance}
    tags = data_category_tags(dataset)
    if tags:
        # Made from a safeguarding concern, so shared only as one (elements.data_category_tags).
        resource["meta"] = {"tag": tags}
    return resource | {
        "target": targets,
        "recorded": format_instant(received_at, fixed_width=False),
        "agent": [
            {
                "type": {"coding": [handover_codes.PROVENANCE_AUTHOR.coding()]},
                "who": organisation(dataset.sender.ods),
            },
            *(
                {
                    "type": {"coding": [audit_codes.AGENT_INFORMATION_RECIPIENT.coding()]},
                    "who": organisation(ods),
                }
                for ods in recipients(dataset)
            ),
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "identifier": {
                        "system": handover_codes.DATASET_SHA256_SYSTEM,
                        "value": dataset_sha256,
                    },
                    "display": f"{kind} dataset as received",
                },
            }
        ],
    }
