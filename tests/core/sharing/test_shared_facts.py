"""The sharing facts a delivery keeps: the same facts the message's resources give,
through the encoding and back; and anything else refused, so the re-check falls back to
the message rather than decide on what it cannot read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.codes import sharing as sharing_codes
from core.handover.messages import request_message
from core.sharing.facts import shared_data
from core.sharing.shared_facts import decode, encode, message_facts
from tests.core.handover.fhir.support import handover, resources

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
# A person with no NHS number yet, as a delivery keeps them: local identifiers travel too.
PATIENT = "https://example-recovery.example.org/Id/client-number|C-000417"


def message(pathway: str = "crisis") -> dict[str, object]:
    made = resources(handover(pathway=pathway))
    return request_message(
        made,
        message_id="b5a7c1de-0000-4000-8000-000000000001",
        gateway_url="https://gateway.test/fhir",
        endpoint="https://rzz.test/fhir/$process-message",
        sender_ods="AZZ",
        receiver_ods="RZZ",
        now=NOW,
    )


def test_the_facts_are_those_of_every_resource_after_the_header() -> None:
    """The message's person is each resource's that is about a person (the Provenance is
    about resources, not a person)."""
    sent = message()
    entries = sent["entry"]
    assert isinstance(entries, list)
    expected = [
        (
            entry["resource"]["resourceType"],
            shared_data(
                entry["resource"]["resourceType"],
                entry["resource"],
                None if entry["resource"]["resourceType"] == "Provenance" else PATIENT,
            ),
        )
        for entry in entries[1:]
    ]
    assert message_facts(sent, PATIENT) == expected
    assert expected[0][0] == "ServiceRequest"
    assert expected[0][1].patient == PATIENT
    assert "MessageHeader" not in {resource_type for resource_type, _ in expected}


def test_the_encoding_gives_back_the_same_facts() -> None:
    facts = message_facts(message("safeguarding"), PATIENT)
    assert decode(encode(facts)) == facts
    categories = {data.category for _, data in facts}
    assert categories == {"safeguarding"}  # the tag travels with every resource
    assert any(data.made_at is not None for _, data in facts)


def test_security_labels_survive_the_encoding() -> None:
    sent = message()
    entries = sent["entry"]
    assert isinstance(entries, list)
    entries[1]["resource"]["meta"] = {"security": [sharing_codes.SECURITY_REDACTED.coding()]}
    facts = message_facts(sent, PATIENT)
    assert facts[0][1].security_labels
    assert decode(encode(facts)) == facts


@pytest.mark.parametrize(
    "kept",
    [
        "",
        "{}",
        '{"ServiceRequest": []}',
        "[1]",
        '[["Flag","no-such-category",null,[],null]]',
        '[["Flag","risk-flag",9434765919,[],null]]',
        '[["Flag","risk-flag",null,[],"2026-12-01T09:30:00"]]',  # no offset
        '[["Flag","risk-flag",null,[],"yesterday"]]',
        '[["Flag","risk-flag",null]]',
    ],
)
def test_anything_else_is_refused(kept: str) -> None:
    with pytest.raises(ValueError, match="sharing facts"):
        decode(kept)
