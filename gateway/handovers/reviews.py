"""Manager reviews of repeat escalations.

When a person has had `count` or more escalations from one organisation within
`within_days` (pathways.yaml `repeat_escalations`), the latest is marked a repeat and a
review is opened for the sending organisation's managers; one open review per person
and sender, however many more repeats come while it is open. Closing one records its
finding, which the governance reports count:

    delay-internal      the delay was within the sender (late recognition, say)
    interface-related   it was at the interface (access, thresholds, no response)
    neither

    GET  /api/reviews?state=open|closed     the caller's organisation's reviews
    POST /api/reviews/{id}/close            {"finding", "detail", "plan_change"}

A review names the person, so reading one is in that person's access history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, insert, select, update

from core.fhir.dates import format_instant
from gateway.platform.errors import NotFound
from gateway.platform.schema import manager_reviews

Finding = Literal["delay-internal", "interface-related", "neither"]
OPEN = "open"
CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Review:
    id: str
    sender_ods: str
    patient: str
    pathway: str
    escalation_id: str
    escalations: int
    within_days: int
    opened_at: datetime
    state: str = OPEN
    finding: str | None = None
    detail: str | None = None
    plan_change: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "patient": self.patient,
            "pathway": self.pathway,
            "escalation": self.escalation_id,
            "escalations": self.escalations,
            "within_days": self.within_days,
            "opened_at": format_instant(self.opened_at, fixed_width=False),
        }
        if self.state == CLOSED:
            body["finding"] = self.finding
            body["detail"] = self.detail
            body["plan_change"] = self.plan_change
            if self.closed_at is not None:
                body["closed_at"] = format_instant(self.closed_at, fixed_width=False)
        return body


class Closing(BaseModel):
    """What closing a review records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    finding: Finding
    detail: str = Field(min_length=1, max_length=4000)
    plan_change: str = Field(min_length=1, max_length=4000)


_COLUMNS = tuple(Review.__dataclass_fields__)


class ReviewStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def open_one(self, review: Review) -> Review:
        """Open `review`, unless one is already open for the person and sender: that one."""
        existing = self._connection.execute(
            select(manager_reviews).where(
                manager_reviews.c.sender_ods == review.sender_ods,
                manager_reviews.c.patient == review.patient,
                manager_reviews.c.state == OPEN,
            )
        ).first()
        if existing is not None:
            return _review(existing._mapping)
        self._connection.execute(
            insert(manager_reviews).values({column: getattr(review, column) for column in _COLUMNS})
        )
        return review

    def of(self, sender_ods: str, state: str | None, limit: int = 100) -> list[Review]:
        query = select(manager_reviews).where(manager_reviews.c.sender_ods == sender_ods)
        if state is not None:
            query = query.where(manager_reviews.c.state == state)
        rows = self._connection.execute(
            query.order_by(manager_reviews.c.opened_at.desc(), manager_reviews.c.id).limit(limit)
        )
        return [_review(row._mapping) for row in rows]

    def close(
        self, review_id: str, sender_ods: str, closing: Closing, now: datetime, client_id: str
    ) -> Review:
        """Close the sender's open review; NotFound for another's, or one not open."""
        changed = self._connection.execute(
            update(manager_reviews)
            .where(
                manager_reviews.c.id == review_id,
                manager_reviews.c.sender_ods == sender_ods,
                manager_reviews.c.state == OPEN,
            )
            .values(
                state=CLOSED,
                finding=closing.finding,
                detail=closing.detail,
                plan_change=closing.plan_change,
                closed_at=now,
                closed_by=client_id,
            )
        )
        if changed.rowcount != 1:
            raise NotFound("Your organisation has no open review with that id.")
        row = self._connection.execute(
            select(manager_reviews).where(manager_reviews.c.id == review_id)
        ).one()
        return _review(row._mapping)


def _review(values: Any) -> Review:
    return Review(**{column: values[column] for column in _COLUMNS})
