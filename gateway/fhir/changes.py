"""Who hears of every version the FHIR write path stores, in the write's own transaction.

ResourceService tells its listener of each version it stores (a create, a dataset's
mapped resources, an update), whoever the writer: a client, or the gateway's own
workflow with no caller. The listener acts in the same transaction, so what it does (a
Subscription's notification queued in the outbox) commits with the write or not at all.
Every ResourceService built in gateway/ names its listener, or None where what it writes
is no one's to hear of (tests/fhir/test_changes.py checks that each does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.fhir.store import StoredResource


class ChangeListener(Protocol):
    def stored(self, records: Sequence[StoredResource]) -> None:
        """Versions just stored, each with its parties (`StoredResource.parties`), in the
        writing transaction: a listener that raises rolls the write back."""
