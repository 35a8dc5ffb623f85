"""The sender rule, alone: a caller sends only as itself, on create and on every update
(another party answers in a record of its own: core.fhir.authorship); a Provenance may
name the caller among several agents."""

from __future__ import annotations

import pytest

from gateway.fhir.senders import check_sender
from gateway.fhir.store import Party
from gateway.platform.errors import Forbidden, InvalidContent

PROVIDER, TRUST = "AZZ", "RZZ"
REFERRAL = [Party(PROVIDER, "requester"), Party(TRUST, "performer")]
ANSWER = [Party(TRUST, "owner"), Party(PROVIDER, "requester")]


def test_a_caller_sends_as_itself_and_not_as_another() -> None:
    check_sender(PROVIDER, "ServiceRequest", REFERRAL)
    with pytest.raises(Forbidden):
        check_sender(TRUST, "ServiceRequest", REFERRAL)


def test_content_that_names_no_sender_is_refused_as_a_business_rule() -> None:
    with pytest.raises(InvalidContent):
        check_sender(PROVIDER, "ServiceRequest", [Party(TRUST, "performer")])


def test_another_party_may_not_write_a_version_that_keeps_the_sender() -> None:
    # Formerly allowed ("leave the sender as it was"): only the author writes a record.
    with pytest.raises(Forbidden):
        check_sender(TRUST, "ServiceRequest", REFERRAL)


def test_only_its_owner_writes_a_task() -> None:
    check_sender(TRUST, "Task", ANSWER)
    with pytest.raises(Forbidden):
        check_sender(PROVIDER, "Task", ANSWER)


def test_a_provenance_may_name_the_caller_among_several_agents() -> None:
    agents = [Party(PROVIDER, "agent"), Party("R1A", "agent")]
    check_sender(PROVIDER, "Provenance", agents)
