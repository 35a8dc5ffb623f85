"""The sender rule, alone: a caller sends only as itself; on update another party may
leave the sender as it was, except on a Task (only its owner answers a referral); a
Provenance may name the caller among several agents; and nobody may write itself out."""

from __future__ import annotations

import pytest

from gateway.errors import Forbidden, InvalidContent
from gateway.services.senders import check_sender
from gateway.store.resources import Party

PROVIDER, TRUST = "AZZ", "RZZ"
REFERRAL = [Party(PROVIDER, "requester"), Party(TRUST, "performer")]
ANSWER = [Party(TRUST, "owner"), Party(PROVIDER, "requester")]


def test_a_caller_sends_as_itself_and_not_as_another() -> None:
    check_sender(PROVIDER, "ServiceRequest", REFERRAL, previous=None)
    with pytest.raises(Forbidden):
        check_sender(TRUST, "ServiceRequest", REFERRAL, previous=None)


def test_content_that_names_no_sender_is_refused_as_a_business_rule() -> None:
    with pytest.raises(InvalidContent):
        check_sender(PROVIDER, "ServiceRequest", [Party(TRUST, "performer")], previous=None)


def test_another_party_may_update_leaving_the_sender_as_it_was() -> None:
    check_sender(TRUST, "ServiceRequest", REFERRAL, previous=REFERRAL)


def test_only_its_owner_may_update_a_task() -> None:
    check_sender(TRUST, "Task", ANSWER, previous=ANSWER)
    with pytest.raises(Forbidden):
        check_sender(PROVIDER, "Task", ANSWER, previous=ANSWER)


def test_a_provenance_may_name_the_caller_among_several_agents() -> None:
    agents = [Party(PROVIDER, "agent"), Party("R1A", "agent")]
    check_sender(PROVIDER, "Provenance", agents, previous=None)


def test_an_update_may_not_write_the_caller_out() -> None:
    without_trust = [Party(PROVIDER, "requester"), Party("R1A", "performer")]
    with pytest.raises(Forbidden, match="no part"):
        check_sender(TRUST, "ServiceRequest", without_trust, previous=REFERRAL)
