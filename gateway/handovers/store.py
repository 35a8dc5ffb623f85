"""Datasets received: looked up by the sender's id, by request id and by what they became."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.platform.schema import dataset_submissions


@dataclass(frozen=True, slots=True)
class Submission:
    sender_ods: str
    external_id: str
    kind: str  # handover | escalation
    request_id: str | None  # X-Request-ID as the sender sent it
    body_sha256: str
    service_request_id: str
    communication_id: str
    received_at: datetime
    gaps: tuple[str, ...]  # field paths the referral checklist warned about


class SubmissionStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, submission: Submission) -> bool:
        """False, and nothing added, if the sender's id or request id is already taken.

        The insert runs in a savepoint, so the transaction stays usable after a clash: on
        PostgreSQL an insert that meets another transaction's uncommitted copy waits for
        it to commit, fails, and the caller then reads that copy to answer 409 duplicate
        (in the aborted transaction that read would fail, and the sender be told 500).
        """
        try:
            with self._connection.begin_nested():
                self._connection.execute(
                    insert(dataset_submissions).values(
                        sender_ods=submission.sender_ods,
                        external_id=submission.external_id,
                        kind=submission.kind,
                        request_id=submission.request_id,
                        body_sha256=submission.body_sha256,
                        service_request_id=submission.service_request_id,
                        communication_id=submission.communication_id,
                        received_at=submission.received_at,
                        gaps=json.dumps(list(submission.gaps)),
                    )
                )
        except IntegrityError:
            return False
        return True

    def by_external_id(self, sender_ods: str, external_id: str) -> Submission | None:
        return self._one(
            (dataset_submissions.c.sender_ods == sender_ods)
            & (dataset_submissions.c.external_id == external_id)
        )

    def by_request_id(self, sender_ods: str, request_id: str) -> Submission | None:
        return self._one(
            (dataset_submissions.c.sender_ods == sender_ods)
            & (dataset_submissions.c.request_id == request_id)
        )

    def by_service_request(self, service_request_id: str) -> Submission | None:
        return self._one(dataset_submissions.c.service_request_id == service_request_id)

    def _one(self, condition: ColumnElement[bool]) -> Submission | None:
        row = self._connection.execute(select(dataset_submissions).where(condition)).first()
        if row is None:
            return None
        values = row._mapping
        return Submission(
            sender_ods=values["sender_ods"],
            external_id=values["external_id"],
            kind=values["kind"],
            request_id=values["request_id"],
            body_sha256=values["body_sha256"],
            service_request_id=values["service_request_id"],
            communication_id=values["communication_id"],
            received_at=values["received_at"],
            gaps=tuple(json.loads(values["gaps"])),
        )
