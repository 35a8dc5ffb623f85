"""`gateway audit verify --witness`: does the log still extend the newest checkpoint each
witness holds? A store rolled back as a whole (events, checkpoints and tree together)
verifies on its own; only a copy of a checkpoint kept elsewhere shows what it lost."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import Connection

from gateway.access_log.checkpoint import SignedCheckpoint, verify_signature
from gateway.access_log.keys import KeyHistory
from gateway.access_log.merkle import consistency_path, verify_consistency
from gateway.access_log.proofs import latest_checkpoint
from gateway.access_log.tree import StoredTree, TreeInconsistent
from gateway.access_log.witness_files import newest_in_file
from gateway.access_log.witness_protocol import WitnessRequestError, parse_note
from gateway.configuration.audit_log import FileWitness, HttpWitness, Witness


class WitnessReadError(Exception):
    """What a witness holds could not be read (message names the witness, no data)."""


@dataclass(frozen=True, slots=True)
class WitnessVerdict:
    witness: str
    held_size: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def held_by(
    witness: Witness, origin: str, *, transport: httpx.BaseTransport | None = None
) -> SignedCheckpoint | None:
    """The newest checkpoint of log `origin` that `witness` holds, if any."""
    if isinstance(witness, FileWitness):
        try:
            return newest_in_file(witness.path)
        except (OSError, ValueError) as error:
            raise WitnessReadError(f"{witness.name}: {error}") from None
    return _held_over_http(witness, origin, transport)


def _held_over_http(
    witness: HttpWitness, origin: str, transport: httpx.BaseTransport | None
) -> SignedCheckpoint | None:
    try:
        with httpx.Client(transport=transport, timeout=10) as http:
            answer = http.get(
                witness.url,
                params={"origin": origin},
                headers={"Authorization": f"Bearer {witness.token}"},
            )
    except httpx.HTTPError as error:
        raise WitnessReadError(f"{witness.name}: {type(error).__name__}") from None
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise WitnessReadError(f"{witness.name}: answered HTTP {answer.status_code}")
    try:
        return parse_note(answer.text)
    except WitnessRequestError as error:
        raise WitnessReadError(f"{witness.name}: {error}") from None


def check_witnessed(
    connection: Connection, keys: KeyHistory, witness: str, held: SignedCheckpoint | None
) -> WitnessVerdict:
    """Does the database's log extend `held` (what `witness` holds)?"""
    if held is None:
        return WitnessVerdict(witness, None, "the witness holds no checkpoint of this log")
    size = held.checkpoint.tree_size
    period = keys.periods.get(held.key_id)
    if (
        held.checkpoint.origin != keys.origin
        or not verify_signature(held, keys.public_keys)
        or period is None
        or not period.covers(size)
    ):
        return WitnessVerdict(
            witness, size, f"the witness's checkpoint of size {size} is not signed by this log"
        )
    newest = latest_checkpoint(connection)
    if newest is None or newest.checkpoint.tree_size < size:
        has = 0 if newest is None else newest.checkpoint.tree_size
        return WitnessVerdict(
            witness,
            size,
            f"the witness holds a checkpoint of size {size}, but the log's newest has size "
            f"{has}: the log was rolled back",
        )
    new = newest.checkpoint
    try:
        path = StoredTree(connection).hashes(consistency_path(size, new.tree_size), new.tree_size)
    except TreeInconsistent:
        path = []
    if not verify_consistency(size, new.tree_size, held.checkpoint.root_hash, new.root_hash, path):
        return WitnessVerdict(
            witness,
            size,
            f"the log's checkpoint of size {new.tree_size} does not extend the witness's "
            f"checkpoint of size {size}: the log was rewritten from position {size} or before",
        )
    return WitnessVerdict(witness, size, None)
