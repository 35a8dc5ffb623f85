"""Overdue safeguarding work climbs the owner's safeguarding ladder, on both databases
through the real application: the missed deadline is recorded, the next level gets a
deadline of its own, the owner and the organisation owed the work are told whom it
reached, the top of the ladder says whom to call, and work done stops the clock. A third
organisation sees none of it. Time is moved by the watcher's clock, not waited for.

The record watched here is a pushed escalation's ServiceRequest: the mechanism is the
same for every record type a feature watches (an action's Task, a restriction)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from consent.purposes import Purpose
from gateway.deadline_sources import deadline_watcher
from gateway.platform.deadlines import Acted
from gateway.platform.schema import safeguarding_deadlines
from gateway.safeguarding.overdue import OverdueClock, Watched
from gateway.sharing.requester import Requester
from tests.handovers import test_deadline_watcher
from tests.handovers.test_deadline_watcher import escalation
from tests.handovers.test_routes import push

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
NOTICE = "https://fhir.mh-gateway.example.org/CodeSystem/communication-category|ladder-notice"
PROVIDER = Requester("AZZ", "demo-provider-epr", None, Purpose.SAFEGUARDING)


def watched(client: TestClient, due_in: timedelta, **changes: Any) -> Watched:
    """A pushed record the provider is owed work on by the Trust, due in `due_in`."""
    created = push(client, escalation(external_id=f"EPR-SG-{due_in}"), "escalations").json()
    values: dict[str, Any] = {
        "kind": "action",
        "record_type": "ServiceRequest",
        "record_id": created["id"],
        "patient": escalation()["patient"]["nhs_number"],
        "owner_ods": "RZZ",
        "told": ("AZZ",),
        "on_behalf": PROVIDER,
        "locality": "north",
        "priority": "urgent",
        "due_at": datetime.now(UTC) + due_in,
        "title": "Convene a strategy meeting",
    }
    values.update(changes)
    record = Watched(**values)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.write() as connection:
        OverdueClock(connection).watch(record)
    return record


class _Watcher:
    def __init__(self, client: TestClient, after: timedelta) -> None:
        self._watcher = test_deadline_watcher.watcher(client, after)

    def run_once(self) -> list[Acted]:
        """What was done about safeguarding work (the escalations pushed to make the
        records have deadlines of their own)."""
        acted = self._watcher.run_once()
        return [done for done in acted if done.source == "safeguarding-overdue"]


def watcher(client: TestClient, after: timedelta) -> _Watcher:
    return _Watcher(client, after)


def rows(client: TestClient) -> list[dict[str, Any]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.read() as connection:
        query = select(safeguarding_deadlines).order_by(safeguarding_deadlines.c.opened_at)
        return [dict(row._mapping) for row in connection.execute(query)]


def notices(client: TestClient, **headers: str) -> list[dict[str, Any]]:
    found = client.get(
        "/fhir/Communication",
        params={"recipient:identifier": f"{ODS}|RZZ", "category": NOTICE, "_count": 50},
        headers=headers,
    ).json()
    return [entry["resource"] for entry in found.get("entry", [])]


def test_overdue_work_climbs_the_owners_ladder_and_the_top_says_whom_to_call(
    client: TestClient, trust_token: dict[str, str], third_token: dict[str, str]
) -> None:
    record = watched(client, timedelta(hours=1))
    assert watcher(client, timedelta(minutes=59)).run_once() == []  # not yet due

    acted = watcher(client, timedelta(minutes=61)).run_once()
    assert [(done.source, done.action) for done in acted] == [("safeguarding-overdue", "step-up")]
    assert watcher(client, timedelta(minutes=62)).run_once() == []  # once only
    missed, manager = rows(client)
    assert (missed["level"], missed["state"], missed["action"]) == (
        "front-line",
        "missed",
        "step-up",
    )
    assert manager["level"] == "manager"
    assert manager["state"] == "open"
    # Urgent, at the manager level of the Trust's safeguarding ladder: two hours from when
    # it was found missed.
    assert manager["deadline"] - missed["acted_at"] == timedelta(hours=2)

    (notice,) = notices(client, **trust_token)
    text = notice["payload"][0]["contentString"]
    assert '"Convene a strategy meeting"' in text
    assert "Named nurse for safeguarding, 01632 960111" in text
    assert notice["about"] == [{"reference": f"ServiceRequest/{record.record_id}"}]
    recipients = {r["identifier"]["value"] for r in notice["recipient"]}
    assert recipients == {"RZZ", "AZZ"}
    assert notice["sender"]["identifier"]["value"] == "AZZ"
    # The requester sees it too; the third organisation, party to nothing, does not.
    assert client.get(f"/fhir/Communication/{notice['id']}").status_code == 200
    assert client.get(f"/fhir/Communication/{notice['id']}", headers=third_token).status_code == 404

    watcher(client, timedelta(hours=3, minutes=2)).run_once()  # the manager's deadline
    acted = watcher(client, timedelta(hours=5)).run_once()  # the senior's (1 hour)
    assert [done.action for done in acted] == ["notify"]
    states = [(row["level"], row["state"], row["action"]) for row in rows(client)]
    assert states == [
        ("front-line", "missed", "step-up"),
        ("manager", "missed", "step-up"),
        ("senior", "missed", "notify"),
    ]
    last = next(
        n for n in notices(client, **trust_token) if n["id"] == rows(client)[2]["notice_id"]
    )
    assert "Call Trust on-call manager on 01632 960102 now." in last["payload"][0]["contentString"]
    assert watcher(client, timedelta(days=3)).run_once() == []  # nothing left to climb

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.read() as connection:
        history = OverdueClock(connection).overdue("ServiceRequest", record.record_id)
    assert [level.level for level in history] == ["front-line", "manager", "senior"]
    assert all(level.notice for level in history)


def test_work_done_stops_the_clock(client: TestClient) -> None:
    record = watched(client, timedelta(minutes=30))
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.database.write() as connection:
        clock = OverdueClock(connection)
        assert clock.running("ServiceRequest", record.record_id, "action")
        assert clock.met("ServiceRequest", record.record_id, "action", at=datetime.now(UTC))
        assert not clock.running("ServiceRequest", record.record_id, "action")
    assert watcher(client, timedelta(days=2)).run_once() == []
    (row,) = rows(client)
    assert row["state"] == "met"


def test_watching_again_restarts_the_clock_from_the_new_date(client: TestClient) -> None:
    record = watched(client, timedelta(minutes=30))
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    later = replace(record, due_at=datetime.now(UTC) + timedelta(days=7))
    with runtime.database.write() as connection:
        OverdueClock(connection).watch(later)  # a review set a new date
    assert watcher(client, timedelta(hours=1)).run_once() == []
    first, second = rows(client)
    assert first["state"] == "met"
    assert second["state"] == "open"


def test_without_a_ladder_the_owner_and_requester_are_told_once(client: TestClient) -> None:
    watched(
        client,
        timedelta(minutes=5),
        owner_ods="AZZ",
        told=(),
        locality=None,
        on_behalf=Requester("RZZ", "demo-trust-crisis", None, Purpose.SAFEGUARDING),
    )
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    config = runtime.config
    ladders = config.ladders.model_copy(update={"ladders": ()})
    bare = dataclasses.replace(config, ladders=ladders)
    moved = datetime.now(UTC) + timedelta(minutes=6)
    acted = deadline_watcher(runtime.database, lambda: bare, clock=lambda: moved).run_once()
    assert [done.action for done in acted] == ["notify"]
    (row,) = rows(client)
    assert (row["state"], row["action"]) == ("missed", "notify")
