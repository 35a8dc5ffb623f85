"""The outbox: deliveries waiting, in flight, and done.

A delivery is claimed with a lease: the worker that claims it owns it until the lease
ends, and only that worker may record its outcome. A worker that dies mid-delivery
leaves its lease to expire, and another claims the delivery again (with the same
request id and body, which the receiver deduplicates). On PostgreSQL claims take rows
FOR UPDATE SKIP LOCKED, so workers in several processes never claim the same one; SQLite
has one writer at a time.

Order: a delivery to one endpoint about one person is not claimed while an earlier one
to the same endpoint about the same person is still pending, so an update never
overtakes its create. A dead-lettered or stopped delivery does not hold the rest back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import aliased

from gateway.exchange.deliveries import (
    NOTIFICATION,
    PENDING,
    WAKE_CHANNEL,
    Delivery,
    DeliveryState,
    NewDelivery,
    Recorded,
)
from gateway.platform.schema import UTCDateTime, outbox


class OutboxStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def enqueue(self, delivery: NewDelivery, now: datetime) -> None:
        self._connection.execute(
            insert(outbox).values(
                id=delivery.id,
                destination=delivery.destination,
                patient=delivery.patient,
                kind=delivery.kind,
                service_request_id=delivery.service_request_id,
                correlation_id=delivery.correlation_id,
                body=delivery.body,
                sender_ods=delivery.sender_ods,
                sender_client=delivery.sender_client,
                sender_role=delivery.sender_role,
                purpose=delivery.purpose,
                justification=delivery.justification,
                sharing=delivery.sharing,
                url=delivery.url,
                method=delivery.method,
                headers=delivery.headers,
                subscription_id=delivery.subscription_id,
                resource=delivery.resource,
                state=DeliveryState.QUEUED,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
        self._notify()

    def claim(
        self, worker: str, now: datetime, lease: timedelta, limit: int, *, exclude: set[str]
    ) -> list[Delivery]:
        """Up to `limit` deliveries due now, oldest first, leased to `worker`; none to a
        destination in `exclude` (its circuit is open, or it is at its concurrency).
        One statement: the rows are chosen, leased and returned together."""
        earlier = aliased(outbox)
        due = or_(
            and_(
                outbox.c.state.in_((DeliveryState.QUEUED, DeliveryState.RETRYING)),
                outbox.c.next_attempt_at <= now,
            ),
            and_(outbox.c.state == DeliveryState.IN_FLIGHT, outbox.c.lease_until < now),
        )
        overtakes = exists().where(
            earlier.c.destination == outbox.c.destination,
            earlier.c.patient == outbox.c.patient,
            earlier.c.seq < outbox.c.seq,
            earlier.c.state.in_(PENDING),
        )
        chosen = select(outbox.c.seq).where(due, ~overtakes).order_by(outbox.c.seq).limit(limit)
        if exclude:
            chosen = chosen.where(outbox.c.destination.not_in(sorted(exclude)))
        if self._connection.dialect.name == "postgresql":
            chosen = chosen.with_for_update(skip_locked=True, of=outbox)
        leased = self._connection.execute(
            update(outbox)
            .where(outbox.c.seq.in_(chosen.scalar_subquery()))
            .values(
                state=DeliveryState.IN_FLIGHT,
                lease_until=now + lease,
                leased_by=worker,
                attempts=outbox.c.attempts + 1,
            )
            .returning(*outbox.c)
        )
        return sorted((_delivery(row._mapping) for row in leased), key=lambda d: d.seq)

    def record(self, worker: str, outcomes: Sequence[Recorded]) -> set[str]:
        """Record the outcomes of attempts `worker` made, in two statements whatever their
        number; the ids recorded. An outcome whose lease `worker` no longer holds (it
        expired and another worker claimed the delivery) is not recorded."""
        if not outcomes:
            return set()
        held = select(outbox.c.id).where(
            outbox.c.id.in_([outcome.delivery_id for outcome in outcomes]),
            outbox.c.state == DeliveryState.IN_FLIGHT,
            outbox.c.leased_by == worker,
        )
        if self._connection.dialect.name == "postgresql":
            held = held.with_for_update(of=outbox)
        owned = set(self._connection.execute(held).scalars())
        rows = [outcome.parameters() for outcome in outcomes if outcome.delivery_id in owned]
        if rows:
            self._connection.execute(
                update(outbox)
                .where(
                    outbox.c.id == bindparam("b_id"),
                    outbox.c.state == DeliveryState.IN_FLIGHT,
                    outbox.c.leased_by == worker,
                )
                .values(
                    state=bindparam("b_state"),
                    lease_until=None,
                    finished_at=bindparam("b_finished_at", type_=UTCDateTime()),
                    next_attempt_at=func.coalesce(
                        bindparam("b_next_attempt_at", type_=UTCDateTime()),
                        outbox.c.next_attempt_at,
                    ),
                    receiver_reference=bindparam("b_receiver_reference"),
                    last_error=bindparam("b_last_error"),
                    attempts=outbox.c.attempts - bindparam("b_unsent", type_=Integer()),
                ),
                rows,
            )
        return owned

    def finish(
        self,
        delivery_id: str,
        worker: str,
        state: DeliveryState,
        now: datetime,
        *,
        receiver_reference: str | None = None,
        error: str | None = None,
    ) -> bool:
        """Record a final outcome (delivered, dead, stopped); False if the lease was lost."""
        done = Recorded(delivery_id, state, error, finished_at=now, reference=receiver_reference)
        return bool(self.record(worker, [done]))

    def retry_at(self, delivery_id: str, worker: str, when: datetime, error: str) -> bool:
        return bool(
            self.record(
                worker, [Recorded(delivery_id, DeliveryState.RETRYING, error, retry_at=when)]
            )
        )

    def requeue(self, delivery_id: str, now: datetime) -> bool:
        """An operator's retry of a dead or stopped delivery: due now, attempts reset."""
        result = self._connection.execute(
            update(outbox)
            .where(
                outbox.c.id == delivery_id,
                outbox.c.state.in_(
                    (DeliveryState.DEAD, DeliveryState.STOPPED, DeliveryState.RETRYING)
                ),
            )
            .values(
                state=DeliveryState.QUEUED,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                finished_at=None,
            )
        )
        self._notify()
        return result.rowcount == 1

    def discard(self, delivery_id: str, now: datetime, reason: str) -> bool:
        """An operator gives up on a delivery that is not in flight."""
        result = self._connection.execute(
            update(outbox)
            .where(
                outbox.c.id == delivery_id,
                outbox.c.state.in_(
                    (DeliveryState.QUEUED, DeliveryState.RETRYING, DeliveryState.DEAD)
                ),
            )
            .values(state=DeliveryState.DEAD, finished_at=now, last_error=reason)
        )
        return result.rowcount == 1

    def get(self, delivery_id: str) -> Delivery | None:
        found = self._select(outbox.c.id == delivery_id)
        return found[0] if found else None

    def for_service_request(self, service_request_id: str) -> list[Delivery]:
        """The deliveries of one dataset (its pushes and updates; never a notification)."""
        return self._select(
            and_(outbox.c.service_request_id == service_request_id, outbox.c.kind != NOTIFICATION)
        )

    def stop_pending(self, subscription_id: str, now: datetime, reason: str) -> int:
        """Stop a Subscription's notifications that wait to be sent (queued or retrying;
        one in flight is recorded by its worker): it is off, in error or deleted. How
        many were stopped."""
        result = self._connection.execute(
            update(outbox)
            .where(
                outbox.c.subscription_id == subscription_id,
                outbox.c.state.in_((DeliveryState.QUEUED, DeliveryState.RETRYING)),
            )
            .values(state=DeliveryState.STOPPED, finished_at=now, last_error=reason[:500])
        )
        return int(result.rowcount)

    def listed(
        self,
        *,
        states: tuple[str, ...] = (),
        destination: str | None = None,
        sender: str | None = None,
        service_request: str | None = None,
        notifications: bool = True,
        limit: int = 100,
    ) -> list[Delivery]:
        """`notifications`: whether Subscriptions' notifications are listed too."""
        conditions: list[Any] = []
        if not notifications:
            conditions.append(outbox.c.kind != NOTIFICATION)
        if service_request is not None:
            conditions.append(outbox.c.service_request_id == service_request)
        if states:
            conditions.append(outbox.c.state.in_(states))
        if destination is not None:
            conditions.append(outbox.c.destination == destination)
        if sender is not None:
            conditions.append(outbox.c.sender_ods == sender)
        return self._select(and_(*conditions) if conditions else None, limit=limit)

    def depth(
        self, states: Sequence[str] = PENDING
    ) -> dict[tuple[str, str], tuple[int, datetime | None]]:
        """Deliveries in `states` (pending ones unless told) per (destination, state):
        how many, and the oldest."""
        rows = self._connection.execute(
            select(
                outbox.c.destination,
                outbox.c.state,
                func.count(),
                func.min(outbox.c.created_at),
            )
            .where(outbox.c.state.in_(states))
            .group_by(outbox.c.destination, outbox.c.state)
        )
        return {(row[0], row[1]): (int(row[2]), row[3]) for row in rows}

    def _notify(self) -> None:
        """Wake idle workers when this transaction commits (PostgreSQL; repeats within
        one transaction are delivered once). SQLite's workers poll."""
        if self._connection.dialect.name == "postgresql":
            self._connection.execute(text(f"NOTIFY {WAKE_CHANNEL}"))

    def _select(self, condition: Any, *, limit: int | None = None) -> list[Delivery]:
        query = select(outbox).order_by(outbox.c.seq)
        if condition is not None:
            query = query.where(condition)
        if limit is not None:
            query = query.limit(limit)
        return [_delivery(row._mapping) for row in self._connection.execute(query)]


def _delivery(values: Any) -> Delivery:
    fields = {name: values[name] for name in Delivery.__dataclass_fields__}
    return Delivery(**(fields | {"state": DeliveryState(fields["state"])}))
