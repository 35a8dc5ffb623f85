from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.access_log.checkpoint import (
    Checkpoint,
    CheckpointError,
    Link,
    SignedCheckpoint,
    check_chain,
    key_id,
    load_public_keys_pem,
    note_sha256,
    public_key_map,
    sign_checkpoint,
    verify_signature,
)
from tests.access_log.test_witness_sender import KEY as CHAIN_KEY
from tests.access_log.test_witness_sender import _signed

ORIGIN = "gateway.example.nhs.uk/audit"
ROOT = bytes(range(32))
WHEN = datetime(2025, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
BODY = (
    b"gateway.example.nhs.uk/audit\n"
    b"1234\n"
    b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    b"time 2025-03-04T05:06:07.000089Z\n"
)


def pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def signed(private_key: Ed25519PrivateKey) -> SignedCheckpoint:
    return sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT, WHEN), private_key, ORIGIN)


def test_body_is_the_tlog_checkpoint_format_and_parses_back() -> None:
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT, WHEN)
    assert checkpoint.body() == BODY
    assert Checkpoint.parse(BODY) == checkpoint


def test_a_timestamp_in_another_zone_is_written_in_utc() -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=-5)))
    checkpoint = Checkpoint(ORIGIN, 1234, ROOT, local)
    assert checkpoint.body() == BODY
    assert Checkpoint.parse(checkpoint.body()).timestamp == WHEN


def test_the_empty_tree() -> None:
    checkpoint = Checkpoint(ORIGIN, 0, ROOT, WHEN)
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


def replace_line(number: int, line: bytes) -> bytes:
    lines = BODY.split(b"\n")
    lines[number] = line
    return b"\n".join(lines)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        BODY[:-1],  # no final newline
        BODY + b"\n",
        BODY + b"extra line\n",
        BODY.replace(b"\n", b"\r\n"),
        b"\n".join(BODY.split(b"\n")[:3]) + b"\n",  # no time line (the C2SP minimum)
        replace_line(0, b""),
        replace_line(0, b"has space"),
        replace_line(0, b"has+plus"),
        replace_line(0, b"tab\there"),
        replace_line(1, b"01234"),
        replace_line(1, b"+1234"),
        replace_line(1, b" 1234"),
        replace_line(1, b"-1"),
        replace_line(1, "\uff11\uff12\uff13\uff14".encode()),  # fullwidth digits
        replace_line(1, b"12345678901234567890123"),
        replace_line(2, b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"),  # unpadded
        replace_line(2, b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9="),  # not canonical
        replace_line(2, b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"),  # 30 bytes
        replace_line(2, b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=="),
        replace_line(2, b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd-h8="),
        replace_line(3, b"time 2025-03-04T05:06:07Z"),
        replace_line(3, b"time 2025-03-04T05:06:07.000089+00:00"),
        replace_line(3, b"time 2025-03-04 05:06:07.000089Z"),
        replace_line(3, b"time 2025-02-30T05:06:07.000089Z"),
        replace_line(3, b"time 2025-03-04T05:06:07.000089z"),
        replace_line(3, b"Time 2025-03-04T05:06:07.000089Z"),
        replace_line(3, b"time  2025-03-04T05:06:07.000089Z"),
        b"\xff" + BODY,
    ],
)
def test_parse_refuses_malformed_bodies(body: bytes) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint.parse(body)


@pytest.mark.parametrize(
    "fields",
    [
        {"origin": ""},
        {"origin": "two\nlines"},
        {"tree_size": -1},
        {"tree_size": True},
        {"root_hash": ROOT[:31]},
        {"timestamp": datetime(2025, 1, 1)},  # naive
    ],
)
def test_checkpoint_refuses_bad_fields(fields: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "origin": ORIGIN,
        "tree_size": 1,
        "root_hash": ROOT,
        "timestamp": WHEN,
    }
    with pytest.raises(CheckpointError):
        Checkpoint(**{**values, **fields})


def test_note_is_a_signed_note(signed: SignedCheckpoint, private_key: Ed25519PrivateKey) -> None:
    body, signature_line = signed.note().split("\n\n")
    assert body.encode() + b"\n" == BODY
    dash, name, blob = signature_line.removesuffix("\n").split(" ")
    assert (dash, name) == ("\u2014", ORIGIN)
    raw = base64.b64decode(blob)
    assert raw[:4] == key_id(ORIGIN, private_key.public_key()) == signed.key_id
    private_key.public_key().verify(raw[4:], BODY)


def test_json_round_trip(signed: SignedCheckpoint) -> None:
    obj = signed.to_json()
    assert obj == {
        "origin": ORIGIN,
        "tree_size": 1234,
        "root_hash": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "timestamp": "2025-03-04T05:06:07.000089Z",
        "key_name": ORIGIN,
        "key_id": signed.key_id.hex(),
        "signature": base64.b64encode(signed.signature).decode(),
        "note": signed.note(),
    }
    assert SignedCheckpoint.from_json(obj) == signed


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 1235},
        {"tree_size": "1234"},
        {"tree_size": 1234.0},
        {"origin": "other.example/audit"},
        {"root_hash": base64.b64encode(bytes(32)).decode()},
        {"timestamp": "2025-03-04T05:06:07Z"},
        {"key_id": "ABCDEF01"},
        {"key_id": "abcdef"},
        {"signature": "AAAA"},
        {"key_name": "bad name"},
        {"note": "something else"},
        {"extra": 1},
    ],
)
def test_from_json_is_strict(signed: SignedCheckpoint, change: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError):
        SignedCheckpoint.from_json({**signed.to_json(), **change})


def test_from_json_refuses_missing_fields_and_non_objects(signed: SignedCheckpoint) -> None:
    obj = signed.to_json()
    del obj["note"]
    candidates: list[object] = [obj, [], "checkpoint", None]
    for bad in candidates:
        with pytest.raises(CheckpointError):
            SignedCheckpoint.from_json(bad)


def test_signature_verifies_with_the_right_key_only(
    signed: SignedCheckpoint, private_key: Ed25519PrivateKey
) -> None:
    keys = public_key_map(ORIGIN, [private_key.public_key()])
    assert verify_signature(signed, keys)
    other = Ed25519PrivateKey.generate().public_key()
    assert not verify_signature(signed, public_key_map(ORIGIN, [other]))
    assert not verify_signature(signed, {})
    # The right key under the wrong id: the id binds the key to its name.
    assert not verify_signature(signed, {signed.key_id: other})
    renamed = dataclasses.replace(signed, key_name="someone.else/audit")
    assert not verify_signature(renamed, {signed.key_id: private_key.public_key()})


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 1235},
        {"root_hash": bytes(32)},
        {"origin": "gateway.example.nhs.uk/other"},
        {"timestamp": WHEN + timedelta(microseconds=1)},
    ],
)
def test_a_modified_field_breaks_the_signature(
    signed: SignedCheckpoint, private_key: Ed25519PrivateKey, change: dict[str, Any]
) -> None:
    keys = public_key_map(ORIGIN, [private_key.public_key()])
    forged = dataclasses.replace(
        signed, checkpoint=dataclasses.replace(signed.checkpoint, **change)
    )
    assert not verify_signature(forged, keys)
    flipped = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    assert not verify_signature(dataclasses.replace(signed, signature=flipped), keys)


def test_key_id_matches_the_go_signed_note_reference() -> None:
    # The verifier key of the example in golang/mod, sumdb/note/note.go:
    # name + key id + base64(0x01 || Ed25519 public key).
    name, expected_id, blob = (
        "PeterNeumann",
        "c74f20a3",
        "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    )
    raw = base64.b64decode(blob)
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    assert key_id(name, public_key).hex() == expected_id


def test_load_public_keys_pem() -> None:
    first, second = (Ed25519PrivateKey.generate().public_key() for _ in range(2))
    keys = load_public_keys_pem(b"# audit keys\n" + pem(first) + b"\n" + pem(second))
    assert [pem(k) for k in keys] == [pem(first), pem(second)]


def test_load_public_keys_pem_refuses_other_keys_and_garbage() -> None:
    ec_key = generate_private_key(SECP256R1()).public_key()
    with pytest.raises(CheckpointError, match="Ed25519"):
        load_public_keys_pem(ec_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(CheckpointError, match="no PEM"):
        load_public_keys_pem(b"not a key")
    private_pem = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    with pytest.raises(CheckpointError, match="unexpected PEM block"):
        load_public_keys_pem(private_pem)
    broken = b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    with pytest.raises(CheckpointError, match="could not be read"):
        load_public_keys_pem(broken)


def test_a_chained_checkpoint_signs_its_link_to_the_one_before() -> None:
    first = _signed(10)
    second = _signed(20, first)
    assert second.checkpoint.previous == Link(10, note_sha256(first))
    lines = second.checkpoint.body().decode().split("\n")
    assert lines[4].startswith("previous 10 ")
    assert Checkpoint.parse(second.checkpoint.body()) == second.checkpoint
    assert SignedCheckpoint.from_json(second.to_json()) == second
    assert check_chain([first, second]) is None
    # The link is under the signature: dropping it invalidates the checkpoint.
    unlinked = SignedCheckpoint(
        dataclasses.replace(second.checkpoint, previous=None),
        second.key_name,
        second.key_id,
        second.signature,
    )
    keys = public_key_map(second.key_name, [CHAIN_KEY.public_key()])
    assert verify_signature(second, keys)
    assert not verify_signature(unlinked, keys)
    # Unlinked checkpoints are accepted as a legacy prefix only, never after a link.
    assert check_chain([first, unlinked]) is None
    third = _signed(30, second)
    unlinked_third = dataclasses.replace(
        third, checkpoint=dataclasses.replace(third.checkpoint, previous=None)
    )
    broken = check_chain([first, second, unlinked_third])
    assert broken is not None
    assert (broken.index, broken.position) == (2, 20)
    skipped = check_chain([first, third])
    assert skipped is not None
    assert "links to a checkpoint of size 20 that is missing" in skipped.problem
