"""The wire format between a log and its witnesses, after C2SP tlog-witness
(https://c2sp.org/tlog-witness) and C2SP tlog-cosignature.

An add-checkpoint request body is

    old <size of the checkpoint the witness is believed to hold, 0 for none>
    <one base64 consistency proof hash per line, from that size to the new one>
    <blank line>
    <the new checkpoint's signed note>

and the answer is the witness's cosignature line over the checkpoint body:

    — <witness name> base64(key id || timestamp, 8 bytes big-endian || Ed25519 signature)

signed over "cosignature/v1\\ntime <timestamp>\\n" followed by the checkpoint body, with
the key id SHA-256(name || "\\n" || 0x04 || public key)[:4].
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.access_log.checkpoint import (
    KEY_ID_SIZE,
    SIGNATURE_SIZE,
    Checkpoint,
    CheckpointError,
    SignedCheckpoint,
)

COSIGNATURE_TYPE = b"\x04"
MEDIA_TYPE_SIZE = "text/x.tlog.size"
MAX_REQUEST_BYTES = 64 * 1024
_MAX_PROOF = 63
_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})", re.ASCII)
_SIGNATURE_LINE = re.compile(r"\u2014 (\S+) ([A-Za-z0-9+/=]+)")


class WitnessRequestError(ValueError):
    """An add-checkpoint body or signed note that is malformed."""


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    checkpoint: SignedCheckpoint

    def body(self) -> bytes:
        lines = [f"old {self.old_size}"]
        lines += [base64.b64encode(digest).decode("ascii") for digest in self.proof]
        return ("\n".join(lines) + "\n\n" + self.checkpoint.note()).encode()

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WitnessRequestError("the request is not UTF-8") from None
        head, separator, note = text.partition("\n\n")
        if not separator:
            raise WitnessRequestError("the request needs a blank line before the checkpoint")
        first, *hashes = head.split("\n")
        matched = _OLD.fullmatch(first)
        if matched is None:
            raise WitnessRequestError("the request must start with 'old <size>'")
        if len(hashes) > _MAX_PROOF:
            raise WitnessRequestError("the consistency proof is too long")
        try:
            proof = [base64.b64decode(line, validate=True) for line in hashes]
        except binascii.Error:
            raise WitnessRequestError("a consistency proof line is not base64") from None
        if any(len(digest) != 32 for digest in proof):
            raise WitnessRequestError("a consistency proof hash is not 32 bytes")
        return cls(int(matched.group(1)), proof, parse_note(note))


def parse_note(note: str) -> SignedCheckpoint:
    """The checkpoint in a signed note, with the signature of the key named as its
    origin (as the log signs); other signature lines (cosignatures) are ignored."""
    body, separator, signatures = note.partition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise WitnessRequestError("a signed note is a body, a blank line and signature lines")
    try:
        checkpoint = Checkpoint.parse((body + "\n").encode())
    except CheckpointError as error:
        raise WitnessRequestError(f"the checkpoint: {error}") from None
    for line in signatures.removesuffix("\n").split("\n"):
        matched = _SIGNATURE_LINE.fullmatch(line)
        if matched is None:
            raise WitnessRequestError("a signature line is malformed")
        if matched.group(1) != checkpoint.origin:
            continue
        try:
            raw = base64.b64decode(matched.group(2), validate=True)
        except binascii.Error:
            raise WitnessRequestError("a signature is not base64") from None
        if len(raw) != KEY_ID_SIZE + SIGNATURE_SIZE:
            raise WitnessRequestError("the log's signature is not an Ed25519 signature")
        return SignedCheckpoint(checkpoint, checkpoint.origin, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])
    raise WitnessRequestError("the note carries no signature by its origin's key")


def cosignature_key_id(name: str, key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + COSIGNATURE_TYPE + raw).digest()[:KEY_ID_SIZE]


def cosignature_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint.body()


def cosign(
    checkpoint: Checkpoint,
    name: str,
    public_key: Ed25519PublicKey,
    sign: Callable[[bytes], bytes],
    moment: datetime,
) -> str:
    """A C2SP cosignature/v1 line by the witness `name` over the checkpoint."""
    timestamp = int(moment.timestamp())
    signature = sign(cosignature_message(checkpoint, timestamp))
    raw = cosignature_key_id(name, public_key) + timestamp.to_bytes(8, "big") + signature
    return f"\u2014 {name} {base64.b64encode(raw).decode('ascii')}\n"
