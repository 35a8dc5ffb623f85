"""The Provenance of a change the gateway's own workflow makes to a record.

When a record changes because of something another organisation did (an escalation
marked answered when the Trust answers it), no client writes the new version: the
gateway does, and records why in a Provenance written in the same transaction:

    Provenance.target    the version written, Type/id/_history/n
    Provenance.activity  HL7 v3-DataOperation UPDATE (the record was revised)
    Provenance.agent     the gateway (performer) and the record's origin (custodian),
                         which is the one organisation party to it
    Provenance.entity    the cause (role source): the answer, Type/id/_history/n

It carries the record's data-category tags, so it is never shared more widely than the
record it describes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.codes import audit as audit_codes
from core.codes import handover as handover_codes
from core.codes.common import Code
from core.fhir.dates import format_instant
from core.handover.answer_links import with_data_categories
from core.handover.fhir.elements import organisation

# Provenance.agent.who of the gateway itself: it has no Organization of its own.
GATEWAY_AGENT = "Mental-health interface gateway (workflow)"


def workflow_provenance(
    provenance_id: str,
    *,
    target: str,
    cause: str,
    custodian_ods: str,
    recorded: datetime,
    changed: Mapping[str, Any],
    more_targets: Sequence[str] = (),
    activity: Code = handover_codes.ACTIVITY_UPDATE,
) -> dict[str, Any]:
    """`target` and `cause` are versioned references (Type/id/_history/n); `changed` is
    the record as the gateway wrote it (its data-category tags are copied). A step-up
    the gateway creates names every resource it made (`more_targets`), activity CREATE."""
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id,
        "target": [{"reference": reference} for reference in (target, *more_targets)],
        "recorded": format_instant(recorded, fixed_width=False),
        "activity": {"coding": [activity.coding()]},
        "agent": [
            {
                "type": {"coding": [handover_codes.PROVENANCE_PERFORMER.coding()]},
                "who": {"display": GATEWAY_AGENT},
            },
            {
                "type": {"coding": [audit_codes.AGENT_CUSTODIAN.coding()]},
                "who": organisation(custodian_ods),
            },
        ],
        "entity": [{"role": "source", "what": {"reference": cause}}],
    }
    with_data_categories(resource, changed)
    return resource
