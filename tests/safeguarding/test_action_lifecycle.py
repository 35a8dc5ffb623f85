"""An action's whole life on both databases through the real application, its deadline
shortened to seconds: raised by the provider, accepted by the Trust, a partner contact
recorded, the deadline passes and the deadline watcher escalates it along the Trust's
safeguarding ladder (the interface delay recorded, the provider told), started, and
completed, which stops the clock. Time is the test's: the application runs on a clock
the test moves, and the watcher looks on a clock of its own."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.safeguarding.conftest import NOW, Timed
from tests.safeguarding.support import (
    contact,
    deadlines,
    move,
    raise_action,
    watch_at,
)
from tests.safeguarding.test_overdue import notices


def test_an_overdue_action_climbs_the_owners_ladder_until_it_is_completed(timed: Timed) -> None:
    client, trust, third = timed.client, timed.trust, timed.third
    raised = raise_action(client, due_in=timedelta(seconds=5), now=NOW)
    action = raised["id"]
    assert move(client, action, "accepted", **trust).status_code == 200
    assert contact(client, action, at=NOW, **trust).status_code == 201
    assert watch_at(client, NOW + timedelta(seconds=4)) == []  # not yet due

    acted = watch_at(client, NOW + timedelta(seconds=10))
    assert [done.action for done in acted] == ["step-up"]
    assert watch_at(client, NOW + timedelta(seconds=11)) == []  # once only
    missed, manager = deadlines(client)
    assert (missed["record_type"], missed["record_id"]) == ("Task", action)
    assert (missed["level"], missed["state"]) == ("front-line", "missed")
    assert (manager["level"], manager["state"]) == ("manager", "open")
    # Urgent, at the manager level of the Trust's safeguarding ladder: two hours.
    assert manager["deadline"] - missed["acted_at"] == timedelta(hours=2)
    # The provider, owed the work, is told whom it reached; so is the owner; nobody else.
    (notice,) = notices(client, **trust)
    assert notice["about"] == [{"reference": raised["task"]}]
    assert "Named nurse for safeguarding, 01632 960111" in notice["payload"][0]["contentString"]
    assert client.get(f"/fhir/Communication/{notice['id']}").status_code == 200
    assert client.get(f"/fhir/Communication/{notice['id']}", headers=third).status_code == 404

    # On the tracker, once its deadline has passed: overdue, with the level it was missed at.
    timed.clock.now = NOW + timedelta(seconds=10)
    found = client.get("/api/safeguarding/actions", params={"state": "overdue"}).json()
    (overdue,) = found["actions"]
    assert overdue["overdue"] is True
    assert [(e["level"], e["action"]) for e in overdue["escalations"]] == [
        ("front-line", "step-up")
    ]

    # The interface delay, as governance counts it: both sides see it, nobody else does,
    # and it names no person.
    for headers in ({}, trust):
        (delay,) = client.get("/api/safeguarding/delays", headers=headers).json()["delays"]
        assert delay["record"] == raised["task"]
        assert (delay["kind"], delay["level"], delay["gateway_action"]) == (
            "action",
            "front-line",
            "step-up",
        )
        assert (delay["owner"], delay["owed_to"]) == ("RZZ", "AZZ")
        assert "9434765919" not in json.dumps(delay)
    assert client.get("/api/safeguarding/delays", headers=third).json()["delays"] == []
    naive = client.get("/api/safeguarding/delays", params={"since": "2026-12-01T00:00:00"})
    assert naive.status_code == 422

    assert move(client, action, "in-progress", **trust).status_code == 200
    done = move(client, action, "completed", **trust)
    assert done.status_code == 200, done.text
    assert done.json()["overdue"] is False
    # Completion stopped the clock: the manager level's deadline passes unremarked.
    assert [row["state"] for row in deadlines(client)] == ["missed", "met"]
    assert watch_at(client, NOW + timedelta(hours=3)) == []
    found = client.get("/api/safeguarding/actions", params={"state": "overdue"}).json()
    assert found["actions"] == []


def test_a_cancelled_action_stops_its_clock(timed: Timed) -> None:
    raised = raise_action(timed.client, due_in=timedelta(seconds=5), now=NOW)
    assert move(timed.client, raised["id"], "cancelled").status_code == 200
    assert [row["state"] for row in deadlines(timed.client)] == ["met"]
    assert watch_at(timed.client, NOW + timedelta(hours=1)) == []
