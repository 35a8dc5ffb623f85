"""Monthly archiving: the oldest events leave the database through a verified export,
and the checkpoint chain, proofs and `gateway audit verify` carry on from the boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.access_log.archive import archive_before
from gateway.access_log.checking import verify_database
from gateway.access_log.keys import KeyHistory
from gateway.access_log.merkle import verify_inclusion
from gateway.access_log.proofs import inclusion_proof, latest_checkpoint
from gateway.access_log.sequencer import Sequencer, SequencingPolicy
from gateway.access_log.verify import load_export, verify_export
from gateway.platform.database import Database
from gateway.platform.errors import NotFound
from gateway.platform.schema import audit_events, audit_references
from tests.access_log.events import append, key

KEY = key()
KEYS = KeyHistory.of(KEY, ())
OCTOBER = datetime(2026, 10, 15, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 15, tzinfo=UTC)


def _log_month(
    database: Database, sequencer: Sequencer, when: datetime, count: int, start: int
) -> None:
    for offset in range(0, count, 100):
        with database.write() as connection:
            append(connection, min(100, count - offset), start=start + offset, recorded=when)
            while sequencer.run(connection).sequenced:
                pass


def test_archiving_keeps_the_chain_verifiable(database: Database, tmp_path: Path) -> None:
    sequencer = Sequencer(KEY, SequencingPolicy(batch=100, checkpoint_every_events=100))
    _log_month(database, sequencer, OCTOBER, 700, 0)
    _log_month(database, sequencer, NOVEMBER, 300, 700)
    with database.read() as connection:
        archived_event = connection.execute(
            select(audit_events.c.event_id).where(audit_events.c.position == 3)
        ).scalar_one()
        kept_event = connection.execute(
            select(audit_events.c.event_id).where(audit_events.c.position == 900)
        ).scalar_one()

    with database.write() as connection:
        outcome = archive_before(
            connection, datetime(2026, 11, 1, tzinfo=UTC), tmp_path / "october", KEYS
        )
    # 700 October events; the boundary is the last multiple of 16 before the first
    # November one, and the export runs on to the first checkpoint after it.
    assert (outcome.first, outcome.until, outcome.exported_until) == (0, 688, 700)
    assert verify_export(load_export(tmp_path / "october")).ok
    with database.read() as connection:
        assert connection.execute(select(func.min(audit_events.c.position))).scalar() == 688
        orphans = connection.execute(
            select(func.count())
            .select_from(audit_references)
            .where(audit_references.c.event_seq.not_in(select(audit_events.c.seq)))
        ).scalar()
        assert orphans == 0
        report = verify_database(connection, KEYS)
        assert report.ok, report.problem
        assert report.events_checked == 1000 - 688
        proof = inclusion_proof(connection, kept_event)
        checkpoint = latest_checkpoint(connection)
        assert checkpoint is not None
        assert verify_inclusion(
            proof.leaf_hash, 900, 1000, proof.path, checkpoint.checkpoint.root_hash
        )
        with pytest.raises(NotFound):
            inclusion_proof(connection, archived_event)

    # The log grows on, and the next archive starts at the boundary, from its frontier.
    _log_month(database, sequencer, datetime(2026, 12, 15, tzinfo=UTC), 200, 1000)
    with database.write() as connection:
        second = archive_before(
            connection, datetime(2026, 12, 1, tzinfo=UTC), tmp_path / "november", KEYS
        )
    assert (second.first, second.until) == (688, 992)
    exported = load_export(tmp_path / "november")
    assert verify_export(exported).ok
    with database.read() as connection:
        assert verify_database(connection, KEYS).ok


def test_nothing_unattested_or_recent_is_archived(database: Database, tmp_path: Path) -> None:
    sequencer = Sequencer(KEY, SequencingPolicy(checkpoint_every_events=10_000))
    _log_month(database, sequencer, OCTOBER, 10, 0)  # attested at once: the first events
    _log_month(database, sequencer, OCTOBER, 50, 10)  # not yet attested
    with database.write() as connection:
        early = archive_before(connection, datetime(2026, 10, 1, tzinfo=UTC), tmp_path / "a", KEYS)
        late = archive_before(connection, datetime(2027, 1, 1, tzinfo=UTC), tmp_path / "b", KEYS)
    assert early.export is None  # nothing recorded before that date
    assert late.export is None  # 10 attested events: not one whole block of 16
    with database.read() as connection:
        assert connection.execute(select(func.count()).select_from(audit_events)).scalar() == 60
