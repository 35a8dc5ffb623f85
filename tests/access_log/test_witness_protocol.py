"""The add-checkpoint request and signed notes as C2SP tlog-witness writes them."""

from __future__ import annotations

import pytest

from gateway.access_log.witness_protocol import AddCheckpoint, WitnessRequestError, parse_note
from tests.access_log.test_witness_sender import _signed


def test_an_add_checkpoint_request_round_trips() -> None:
    first = _signed(10)
    second = _signed(20, first)
    request = AddCheckpoint(10, [bytes(range(32)), bytes(32)], second)
    body = request.body().decode()
    assert body.startswith("old 10\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
    assert "\n\nmh-gateway/test/audit\n20\n" in body
    assert AddCheckpoint.parse(request.body()) == request


def test_a_note_keeps_the_logs_signature_and_ignores_cosignatures() -> None:
    signed = _signed(20, _signed(10))
    cosigned = signed.note() + "\u2014 some-witness AAAAAAAAAAAAAAAA\n"
    assert parse_note(cosigned) == signed


@pytest.mark.parametrize(
    "body",
    [
        b"old 01\n\n",
        b"old 5\nnot base64!\n\n",
        b"old 5\nAAAA\n\n",
        b"old 5\n",
        b"\xff",
        b"old 0\n\nmh-gateway/test/audit\n1\n",
    ],
)
def test_a_malformed_request_is_refused(body: bytes) -> None:
    with pytest.raises(WitnessRequestError):
        AddCheckpoint.parse(body)
