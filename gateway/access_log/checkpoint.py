"""Signed checkpoints: C2SP tlog-checkpoint bodies signed as C2SP signed notes.

A body is four or five lines, each ending in a newline:

    <origin>
    <tree size, decimal, no leading zeros>
    <root hash, standard base64>
    time <UTC, RFC 3339 with microseconds, e.g. 2025-01-02T03:04:05.123456Z>
    previous <tree size> <base64 SHA-256 of the previous checkpoint's signed note>

The `previous` extension line chains each checkpoint to the one before it, under the
signature: deleting or replacing a checkpoint breaks the next one's link. Checkpoints
signed before the chain existed have no such line (see `check_chain`).

The signature is Ed25519 over the body bytes. The note's signature line carries the
key name and base64(key id || signature), where the key id is the first four bytes of
SHA-256(key name || "\\n" || 0x01 || raw public key) (https://c2sp.org/signed-note).
The log signs with its origin as the key name, as tlog-checkpoint recommends.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_public_key,
)

ED25519_SIGNATURE_TYPE = b"\x01"
KEY_ID_SIZE = 4
SIGNATURE_SIZE = 64
ROOT_HASH_SIZE = 32

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", re.ASCII)
_SIZE_PATTERN = re.compile(r"0|[1-9][0-9]{0,18}", re.ASCII)
# Key names (and origins, which double as key names) may hold no spaces, no plus signs
# and, being part of a signed note, no control characters.
_NAME_PATTERN = re.compile(r"[^\s+\x00-\x1f\x7f]+")
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_JSON_FIELDS = frozenset(
    {"origin", "tree_size", "root_hash", "timestamp", "key_name", "key_id", "signature", "note"}
)
_PREVIOUS = "previous"


class CheckpointError(ValueError):
    """A checkpoint, signed note or key that is malformed."""


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        raise CheckpointError(f"{what} must be non-empty, without spaces, '+' or controls")
    return name


def _format_time(moment: datetime) -> str:
    # isoformat, unlike strftime, always writes four digits of year.
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def _parse_time(text: str) -> datetime:
    if not _TIME_PATTERN.fullmatch(text):
        raise CheckpointError("the time must be RFC 3339 UTC with microseconds and a Z")
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError as error:
        raise CheckpointError("the time is not a valid date and time") from error


def _decode_base64(text: str, size: int, what: str) -> bytes:
    """Strict standard base64: canonical padding, nothing else, exactly `size` bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise CheckpointError(f"{what} is not valid base64") from error
    if len(raw) != size or base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} must be the base64 of {size} bytes")
    return raw


@dataclass(frozen=True)
class Link:
    """What a checkpoint commits to of the one before it."""

    tree_size: int
    note_sha256: bytes

    def __post_init__(self) -> None:
        size = self.tree_size
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size < 10**19:
            raise CheckpointError("a previous checkpoint's size must be a positive integer")
        if not isinstance(self.note_sha256, bytes) or len(self.note_sha256) != ROOT_HASH_SIZE:
            raise CheckpointError("a previous checkpoint's note hash must be 32 bytes")

    @classmethod
    def to(cls, signed: SignedCheckpoint) -> Link:
        return cls(signed.checkpoint.tree_size, note_sha256(signed))

    def line(self) -> str:
        return f"{_PREVIOUS} {self.tree_size} {base64.b64encode(self.note_sha256).decode()}"

    @classmethod
    def parse_line(cls, line: str) -> Link:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _PREVIOUS or not _SIZE_PATTERN.fullmatch(parts[1]):
            raise CheckpointError("the fifth line must be 'previous <size> <note hash>'")
        return cls(int(parts[1]), _decode_base64(parts[2], ROOT_HASH_SIZE, "the note hash"))


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime
    previous: Link | None = None

    def __post_init__(self) -> None:
        _check_name(self.origin, "the origin")
        size = self.tree_size
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 10**19:
            raise CheckpointError("the tree size must be a non-negative integer")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != ROOT_HASH_SIZE:
            raise CheckpointError("the root hash must be 32 bytes")
        if not isinstance(self.timestamp, datetime) or self.timestamp.utcoffset() is None:
            raise CheckpointError("the timestamp must be a timezone-aware datetime")
        if self.previous is not None:
            if not isinstance(self.previous, Link):
                raise CheckpointError("previous must be a Link")
            if self.previous.tree_size >= self.tree_size:
                raise CheckpointError("the previous checkpoint must be smaller")

    def body(self) -> bytes:
        root = base64.b64encode(self.root_hash).decode("ascii")
        time = _format_time(self.timestamp)
        chain = "" if self.previous is None else self.previous.line() + "\n"
        return f"{self.origin}\n{self.tree_size}\n{root}\ntime {time}\n{chain}".encode()

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        """The checkpoint in a body exactly as `body()` writes it; anything else raises
        CheckpointError."""
        try:
            text = body.decode("utf-8")
        except (UnicodeDecodeError, AttributeError) as error:
            raise CheckpointError("a checkpoint body must be UTF-8 bytes") from error
        lines = text.split("\n")
        if len(lines) not in (5, 6) or lines[-1] != "":
            raise CheckpointError("a checkpoint body must be four or five newline-ended lines")
        origin, size, root, time_line = lines[:4]
        if not _SIZE_PATTERN.fullmatch(size):
            raise CheckpointError("the tree size must be decimal without leading zeros")
        if not time_line.startswith("time "):
            raise CheckpointError("the fourth line must be the time extension line")
        checkpoint = cls(
            origin=_check_name(origin, "the origin"),
            tree_size=int(size),
            root_hash=_decode_base64(root, ROOT_HASH_SIZE, "the root hash"),
            timestamp=_parse_time(time_line.removeprefix("time ")),
            previous=Link.parse_line(lines[4]) if len(lines) == 6 else None,
        )
        if checkpoint.body() != body:
            raise CheckpointError("the checkpoint body is not in canonical form")
        return checkpoint


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    key_name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.checkpoint, Checkpoint):
            raise CheckpointError("checkpoint must be a Checkpoint")
        _check_name(self.key_name, "the key name")
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_SIZE:
            raise CheckpointError("the key id must be 4 bytes")
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE:
            raise CheckpointError("an Ed25519 signature is 64 bytes")

    def note(self) -> str:
        """The signed note: body, a blank line, and the signature line."""
        signature = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{self.checkpoint.body().decode()}\n\u2014 {self.key_name} {signature}\n"

    def to_json(self) -> dict[str, Any]:
        checkpoint = self.checkpoint
        return {
            "origin": checkpoint.origin,
            "tree_size": checkpoint.tree_size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode("ascii"),
            "timestamp": _format_time(checkpoint.timestamp),
            "key_name": self.key_name,
            "key_id": self.key_id.hex(),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "note": self.note(),
        } | self._previous_json()

    def _previous_json(self) -> dict[str, Any]:
        previous = self.checkpoint.previous
        if previous is None:
            return {}
        digest = base64.b64encode(previous.note_sha256).decode("ascii")
        return {_PREVIOUS: {"tree_size": previous.tree_size, "note_sha256": digest}}

    @classmethod
    def from_json(cls, obj: object) -> SignedCheckpoint:
        """The inverse of `to_json`: exactly its fields, each as it writes them, and a
        note that agrees with them. Anything else raises CheckpointError."""
        if not isinstance(obj, dict) or set(obj) - {_PREVIOUS} != _JSON_FIELDS:
            raise CheckpointError(
                f"a signed checkpoint has exactly the fields {sorted(_JSON_FIELDS)} "
                "(and 'previous' when chained)"
            )
        strings = _JSON_FIELDS - {"tree_size"}
        if not all(isinstance(obj[field], str) for field in strings):
            raise CheckpointError("every signed checkpoint field but tree_size is a string")
        key_id = obj["key_id"]
        if not re.fullmatch(r"[0-9a-f]{8}", key_id):
            raise CheckpointError("the key id must be 8 lowercase hex digits")
        signed = cls(
            checkpoint=Checkpoint(
                origin=obj["origin"],
                tree_size=obj["tree_size"],
                root_hash=_decode_base64(obj["root_hash"], ROOT_HASH_SIZE, "the root hash"),
                timestamp=_parse_time(obj["timestamp"]),
                previous=_link_from_json(obj.get(_PREVIOUS)),
            ),
            key_name=obj["key_name"],
            key_id=bytes.fromhex(key_id),
            signature=_decode_base64(obj["signature"], SIGNATURE_SIZE, "the signature"),
        )
        if signed.note() != obj["note"]:
            raise CheckpointError("the note does not match the checkpoint's fields")
        return signed


def _link_from_json(value: object) -> Link | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"tree_size", "note_sha256"}:
        raise CheckpointError("previous must hold exactly tree_size and note_sha256")
    digest = value["note_sha256"]
    if not isinstance(digest, str):
        raise CheckpointError("previous.note_sha256 must be base64")
    return Link(value["tree_size"], _decode_base64(digest, ROOT_HASH_SIZE, "the note hash"))


def note_sha256(signed: SignedCheckpoint) -> bytes:
    """The SHA-256 of a checkpoint's whole signed note, as the next one's link names it."""
    return hashlib.sha256(signed.note().encode()).digest()


@dataclass(frozen=True)
class ChainBreak:
    index: int  # of the checkpoint whose link fails
    position: int  # the first position not proven: the size of the one before it
    problem: str


def check_chain(
    checkpoints: Sequence[SignedCheckpoint], *, starts_mid_log: bool = False
) -> ChainBreak | None:
    """Each checkpoint, from the first linked one on, links to the one just before it;
    the first that does not, or None.

    The log's first checkpoint has nothing to link to. Checkpoints signed before the
    chain existed carry no link either: they are accepted only as a prefix, so once one
    checkpoint carries a link every later one must, and stripping links hides nothing.
    A deletion inside that legacy prefix shows only against the recomputed tree, as it
    did before. `starts_mid_log` (an export after archiving): the first checkpoint may
    link to one that was archived, and its link is not checked.
    """
    chained = False
    for index, signed in enumerate(checkpoints):
        link = signed.checkpoint.previous
        size = signed.checkpoint.tree_size
        before = checkpoints[index - 1] if index else None
        last_good = before.checkpoint.tree_size if before is not None else 0
        if link is None:
            if chained:
                return ChainBreak(
                    index,
                    last_good,
                    f"checkpoint of size {size} does not link to the one before it",
                )
            continue
        chained = True
        if before is None and starts_mid_log:
            continue
        if before is None or link != Link.to(before):
            return ChainBreak(
                index,
                last_good,
                f"checkpoint of size {size} links to a checkpoint of size {link.tree_size} "
                "that is missing or was replaced",
            )
    return None


@dataclass(frozen=True)
class KeyPeriod:
    """Which checkpoints a signing key may sign: sizes above `after_tree_size` and, for a
    retired key, up to `until_tree_size`. Rotation ends one period where the next starts."""

    after_tree_size: int = 0
    until_tree_size: int | None = None

    def covers(self, tree_size: int) -> bool:
        if tree_size <= self.after_tree_size:
            return False
        return self.until_tree_size is None or tree_size <= self.until_tree_size


def key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    digest = hashlib.sha256(key_name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + raw).digest()
    return digest[:KEY_ID_SIZE]


def public_key_map(
    key_name: str, public_keys: Iterable[Ed25519PublicKey]
) -> dict[bytes, Ed25519PublicKey]:
    """The keys by their key id under `key_name`, as `verify_signature` takes them."""
    return {key_id(key_name, key): key for key in public_keys}


def sign_checkpoint(
    checkpoint: Checkpoint, private_key: Ed25519PrivateKey, key_name: str
) -> SignedCheckpoint:
    return sign_with(checkpoint, private_key.public_key(), key_name, private_key.sign)


def sign_with(
    checkpoint: Checkpoint,
    public_key: Ed25519PublicKey,
    key_name: str,
    sign: Callable[[bytes], bytes],
) -> SignedCheckpoint:
    """Sign through any signer (a key in memory, a PKCS#11 token, a KMS) by its function."""
    _check_name(key_name, "the key name")
    return SignedCheckpoint(
        checkpoint=checkpoint,
        key_name=key_name,
        key_id=key_id(key_name, public_key),
        signature=sign(checkpoint.body()),
    )


def verify_signature(
    signed: SignedCheckpoint, public_keys: Mapping[bytes, Ed25519PublicKey]
) -> bool:
    """True when the key with the note's key id signed the body under the note's key
    name; False for an unknown key, a name that does not match the id, or a bad
    signature."""
    public_key = public_keys.get(signed.key_id)
    if public_key is None or key_id(signed.key_name, public_key) != signed.key_id:
        return False
    try:
        public_key.verify(signed.signature, signed.checkpoint.body())
    except InvalidSignature:
        return False
    return True


def load_public_keys_pem(data: bytes) -> list[Ed25519PublicKey]:
    """Every PEM "PUBLIC KEY" block in `data`; refuses other blocks and other key types."""
    blocks = list(_PEM_BLOCK.finditer(data))
    if not blocks:
        raise CheckpointError("no PEM public key found")
    keys = []
    for block in blocks:
        if block.group(1) != b"PUBLIC KEY":
            raise CheckpointError(f"unexpected PEM block {block.group(1).decode()!r}")
        try:
            key = load_pem_public_key(block.group(0))
        except (ValueError, UnsupportedAlgorithm) as error:
            raise CheckpointError("a PEM public key could not be read") from error
        if not isinstance(key, Ed25519PublicKey):
            raise CheckpointError("only Ed25519 public keys are accepted")
        keys.append(key)
    return keys
