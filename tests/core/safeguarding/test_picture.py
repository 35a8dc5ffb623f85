"""The person's safeguarding picture on the summary page and in its JSON: restrictions in
force first, then open actions, overdue ones marked and counted, every value escaped;
nothing at all when there is nothing to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.safeguarding.picture import (
    ActiveRestriction,
    OpenAction,
    SafeguardingPicture,
    picture_json,
    picture_section,
)

NOW = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)
ACTION = OpenAction(
    reference="Task/a1",
    what="Strategy meeting <convene>",
    owner="Demo NHS Trust (safeguarding adults team)",
    status="in-progress",
    due=NOW - timedelta(hours=2),
    overdue=True,
)
RESTRICTION = ActiveRestriction(
    reference="Flag/r1",
    what="No unsupervised leave",
    author="Demo Provider",
    until=NOW + timedelta(days=10),
    review_due=NOW + timedelta(days=3),
    overdue_review=False,
)


def test_nothing_to_show_shows_nothing() -> None:
    assert picture_section(None, NOW) == ""
    assert picture_section(SafeguardingPicture(), NOW) == ""
    assert picture_json(SafeguardingPicture()) == {"actions": [], "restrictions": []}


def test_restrictions_come_first_and_overdue_work_is_counted_and_marked() -> None:
    html = picture_section(SafeguardingPicture((ACTION,), (RESTRICTION,)), NOW)
    assert "1 restriction in force, 1 open safeguarding action" in html
    assert '<span class="overdue">(1 overdue)</span>' in html
    assert html.index("No unsupervised leave") < html.index("Strategy meeting")
    assert "&lt;convene&gt;" in html
    assert "<convene>" not in html
    assert "overdue by 2 hours" in html
    assert "review due" in html
    assert "review overdue" not in html
    assert "in progress" in html


def test_the_json_names_each_record_and_leaves_out_what_is_absent() -> None:
    undated = OpenAction(
        "Task/a2", "Referral to the local authority", "Demo Provider", "requested", None, False
    )
    body = picture_json(SafeguardingPicture((ACTION, undated), (RESTRICTION,)))
    first, second = body["actions"]
    assert first == {
        "reference": "Task/a1",
        "what": "Strategy meeting <convene>",
        "owner": "Demo NHS Trust (safeguarding adults team)",
        "status": "in-progress",
        "due": "2026-11-21T11:00:00Z",
        "overdue": True,
    }
    assert "due" not in second
    (restriction,) = body["restrictions"]
    assert restriction["review_due"] == "2026-11-24T13:00:00Z"
    assert restriction["overdue_review"] is False
