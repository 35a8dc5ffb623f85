"""A restriction's review date as a safeguarding deadline (gateway.safeguarding.overdue):
recorded or reviewed, its clock starts at the review date; reviewed or ended, it stops.
A review date passing with no review escalates along the author's safeguarding ladder
(manager, then senior), telling the author and every organisation it is shared with,
and the delay is recorded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from core.codes import restrictions as restriction_codes
from core.safeguarding.restrictions import Restriction
from gateway.platform.clock import utc_now
from gateway.safeguarding.overdue import FIRST_LEVEL, MissedLevel, OverdueClock, Watched
from gateway.safeguarding.overdue_store import OPEN, DeadlineStore
from gateway.sharing.requester import Requester

RECORD_TYPE = "Flag"
KIND = "review"
# How urgently an overdue review climbs the ladder: each level's time for this priority.
PRIORITY = "urgent"


class RestrictionReviews:
    """The review clock of the restrictions `requester` (their author's client) writes."""

    def __init__(
        self,
        connection: Connection,
        requester: Requester | None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._clock = OverdueClock(connection, clock=clock)
        self._rows = DeadlineStore(connection)
        self._requester = requester

    def watch(self, restriction: Restriction) -> None:
        if self._requester is None or restriction.review_date is None:
            return
        kind = restriction_codes.RESTRICTION_KINDS[restriction.kind].display
        self._clock.watch(
            Watched(
                kind=KIND,
                record_type=RECORD_TYPE,
                record_id=restriction.id,
                patient=restriction.patient.nhs_number,
                owner_ods=restriction.author.ods,
                told=tuple(o.ods for o in restriction.shared_with),
                on_behalf=self._requester,
                locality=None,
                priority=PRIORITY,
                due_at=restriction.review_date,
                title=f"Review of a restriction: {kind.lower()}",
            )
        )

    def met(self, restriction: Restriction, at: datetime) -> None:
        self._clock.met(RECORD_TYPE, restriction.id, KIND, at=at)

    def missed(self, restriction_id: str) -> list[MissedLevel]:
        """Each ladder level at which its review was found overdue, first to last."""
        return self._clock.overdue(RECORD_TYPE, restriction_id)

    def escalating(self, restriction_id: str) -> bool:
        """Whether its review is overdue and climbing the ladder now: its clock is running
        at a level above the first (found overdue by the watcher, not reviewed since)."""
        return any(
            row.kind == KIND and row.state == OPEN and row.level != FIRST_LEVEL
            for row in self._rows.of_record(RECORD_TYPE, restriction_id)
        )
