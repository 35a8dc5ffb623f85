"""The Provenance: every resource made, the sender as author, the receiver as recipient,
and the dataset as received by its SHA-256."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from core.codes import audit as audit_codes
from core.codes import common as codes
from core.codes import handover as handover_codes
from tests.core.handover.fhir.support import dataset, escalation, handover, minimal, resources

ODS = codes.ODS_ORGANISATION_SYSTEM


def test_the_entity_is_the_dataset_as_received_by_its_hash() -> None:
    digest = hashlib.sha256(b'{"dataset": "handover"}').hexdigest()
    provenance = resources(handover(), sha256=digest).provenance
    assert provenance["entity"] == [
        {
            "role": "source",
            "what": {
                "identifier": {"system": handover_codes.DATASET_SHA256_SYSTEM, "value": digest},
                "display": "Handover dataset as received",
            },
        }
    ]


def test_an_escalations_entity_says_so() -> None:
    (entity,) = resources(escalation()).provenance["entity"]
    assert entity["what"]["display"] == "Escalation summary dataset as received"


def test_the_agents_are_the_sender_as_author_and_the_receiver_as_recipient() -> None:
    provenance = resources(handover()).provenance
    assert provenance["agent"] == [
        {
            "type": {"coding": [handover_codes.PROVENANCE_AUTHOR.coding()]},
            "who": {"identifier": {"system": ODS, "value": "AZZ"}},
        },
        {
            "type": {"coding": [audit_codes.AGENT_INFORMATION_RECIPIENT.coding()]},
            "who": {"identifier": {"system": ODS, "value": "RZZ"}},
        },
    ]


def test_the_targets_are_every_resource_made() -> None:
    made = resources(handover())
    targets = [target["reference"] for target in made.provenance["target"]]
    assert targets == [
        f"{resource['resourceType']}/{resource['id']}" for resource in made.all()[:-1]
    ]
    assert targets == [
        "ServiceRequest/sr-t",
        "Flag/flag-t-1",
        "Flag/flag-t-2",
        "Communication/comm-t",
    ]


def test_recorded_is_when_the_gateway_received_it_in_utc() -> None:
    received = datetime(2026, 6, 20, 15, 0, 0, 500, tzinfo=timezone(timedelta(hours=1)))
    provenance = resources(dataset(minimal()), received_at=received).provenance
    assert provenance["recorded"] == "2026-06-20T14:00:00.000500Z"
    assert datetime.fromisoformat(provenance["recorded"]) == received.astimezone(UTC)
