"""Being a witness for another party's access log (POST /audit/witness): keep the newest
checkpoint of each log, and replace it only with one its log signed that a consistency
proof shows to extend it. The C2SP tlog-witness rules, on the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.fhir.issues import Issue, IssueCode
from gateway.access_log.checkpoint import SignedCheckpoint, public_key_map, verify_signature
from gateway.access_log.merkle import verify_consistency
from gateway.access_log.witness_protocol import AddCheckpoint, parse_note
from gateway.configuration.audit_log import WitnessedLog
from gateway.platform.errors import CheckpointNotExtended, Conflict, Forbidden, InvalidContent
from gateway.platform.schema import audit_witnessed


def held_checkpoint(connection: Connection, origin: str) -> SignedCheckpoint | None:
    note = connection.execute(
        select(audit_witnessed.c.note).where(audit_witnessed.c.origin == origin)
    ).scalar()
    return None if note is None else parse_note(note)


def add_checkpoint(
    connection: Connection, log: WitnessedLog, request: AddCheckpoint, now: datetime
) -> SignedCheckpoint:
    """Store the request's checkpoint as the newest of `log`, or raise: Forbidden (not
    signed by the log's key), CheckpointNotExtended (the old size is not the one held),
    Conflict (same size, another root), InvalidContent 422 (the proof fails)."""
    signed = request.checkpoint
    new = signed.checkpoint
    if new.origin != log.origin or not verify_signature(
        signed, public_key_map(log.origin, [log.public_key])
    ):
        raise Forbidden("The checkpoint is not signed by that log's published key.")
    held = held_checkpoint(connection, log.origin)
    held_size = 0 if held is None else held.checkpoint.tree_size
    if request.old_size != held_size:
        raise CheckpointNotExtended(held_size)
    if new.tree_size < held_size:
        raise InvalidContent(
            [Issue(IssueCode.INVALID, "The checkpoint is smaller than its old size.")]
        )
    if held is not None and new.tree_size == held_size:
        if new.root_hash != held.checkpoint.root_hash:
            raise Conflict("A different checkpoint of that size is held for that log.")
        return held
    if held is not None and not verify_consistency(
        held_size, new.tree_size, held.checkpoint.root_hash, new.root_hash, request.proof
    ):
        raise InvalidContent(
            [Issue(IssueCode.BUSINESS_RULE, "The consistency proof does not verify.")],
            business_rule=True,
        )
    values = {"tree_size": new.tree_size, "note": signed.note(), "witnessed_at": now}
    if held is None:
        try:
            connection.execute(insert(audit_witnessed).values(origin=log.origin, **values))
        except IntegrityError:
            raise Conflict("Another checkpoint for that log arrived at once; retry.") from None
        return signed
    # Compare and swap: a concurrent add that won leaves this one nothing to replace.
    replaced = connection.execute(
        update(audit_witnessed)
        .where(audit_witnessed.c.origin == log.origin, audit_witnessed.c.tree_size == held_size)
        .values(**values)
    ).rowcount
    if replaced != 1:
        current = held_checkpoint(connection, log.origin)
        raise CheckpointNotExtended(0 if current is None else current.checkpoint.tree_size)
    return signed
