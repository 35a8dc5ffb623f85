"""What the store holds after the HTTP measurement, checked against the 201s counted."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from bench.handovers.http import KindResult
from gateway.platform.database import Database
from gateway.platform.schema import audit_events, dataset_submissions, resources


@dataclass
class Stored:
    resources: dict[str, int]  # by type, the directory's Organizations included
    submissions: int  # dataset_submissions rows
    audit_events: dict[str, int]  # by subtype
    problems: list[str] = field(default_factory=list)  # what differs from the 201s counted

    @property
    def audit_total(self) -> int:
        return sum(self.audit_events.values())


def check_store(url: str, results: dict[str, KindResult], risks: int, *, checked: int) -> Stored:
    """Count what was stored; every 201 counted (and the `checked` handovers pushed before
    measuring) must be there,
    and nothing more: a create stores one ServiceRequest, a handover a ServiceRequest, a
    Flag per key risk, a Communication, a Provenance and a submission."""
    database = Database(url)
    try:
        with database.read() as connection:
            by_type = connection.execute(
                select(resources.c.resource_type, func.count()).group_by(resources.c.resource_type)
            ).all()
            submissions = connection.execute(
                select(func.count()).select_from(dataset_submissions)
            ).scalar_one()
            events = connection.execute(
                select(audit_events.c.subtype, func.count()).group_by(audit_events.c.subtype)
            ).all()
    finally:
        database.dispose()
    stored = Stored(
        resources={str(kind): int(count) for kind, count in by_type},
        submissions=int(submissions),
        audit_events={str(subtype): int(count) for subtype, count in events},
    )
    creates, handovers = results["create"].created, results["handover"].created + checked
    expected = {
        "ServiceRequest": creates + handovers,
        "Flag": risks * handovers,
        "Communication": handovers,
        "Provenance": handovers,
    }
    for kind, count in expected.items():
        found = stored.resources.get(kind, 0)
        if found != count:
            stored.problems.append(f"{kind}: {found:,} stored, {count:,} expected")
    if stored.submissions != handovers:
        stored.problems.append(f"submissions: {stored.submissions:,} stored, {handovers:,} pushed")
    return stored
