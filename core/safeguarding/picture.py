"""The person's safeguarding picture, as a crisis team needs it when deciding: the
safeguarding actions still open about them and the restrictions in force, each with who
owns it and its dates, overdue ones marked. Shown on the summary page (above the fold,
when there is any) and in the dataset API's answer, so both sides see the same picture.

Only what the reader may see is ever passed in: the shell reads each record as the
reader, through consent and the agreements, and leaves out what it may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.fhir.dates import format_instant
from core.handover.summary_markup import clock_time, escaped, isolated, relative


@dataclass(frozen=True, slots=True)
class OpenAction:
    reference: str  # Task/<id>
    what: str  # the action, as its code's display (and the description, if any)
    owner: str  # the owning organisation's name (and team)
    status: str  # requested | accepted | in-progress
    due: datetime | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class ActiveRestriction:
    reference: str
    what: str  # the restriction, as its kind's display (and detail)
    author: str  # the organisation that applied it
    until: datetime | None  # its time limit
    review_due: datetime | None
    overdue_review: bool


@dataclass(frozen=True, slots=True)
class SafeguardingPicture:
    actions: tuple[OpenAction, ...] = ()
    restrictions: tuple[ActiveRestriction, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.actions or self.restrictions)


def picture_section(picture: SafeguardingPicture | None, now: datetime) -> str:
    """The picture as one section; nothing when there is nothing to show."""
    if not picture:
        return ""
    assert picture is not None
    items = [_restriction(item, now) for item in picture.restrictions]
    items += [_action(item, now) for item in picture.actions]
    overdue = sum(item.overdue for item in picture.actions) + sum(
        item.overdue_review for item in picture.restrictions
    )
    counts = [
        _count(len(picture.restrictions), "restriction in force", "restrictions in force"),
        _count(len(picture.actions), "open safeguarding action", "open safeguarding actions"),
    ]
    heading = "Safeguarding: " + ", ".join(count for count in counts if count)
    if overdue:
        heading += f' <span class="overdue">({overdue} overdue)</span>'
    return (
        '<section class="safeguarding" id="safeguarding" aria-labelledby="safeguarding-heading">\n'
        f'<h2 id="safeguarding-heading">{heading}</h2>\n'
        f"<ul>{''.join(items)}</ul>\n"
        "</section>"
    )


def picture_json(picture: SafeguardingPicture) -> dict[str, Any]:
    """`{"actions": [...], "restrictions": [...]}`, each with its record's reference."""
    return {
        "actions": [
            _dropping_none(
                reference=item.reference,
                what=item.what,
                owner=item.owner,
                status=item.status,
                due=_instant(item.due) if item.due else None,
                overdue=item.overdue,
            )
            for item in picture.actions
        ],
        "restrictions": [
            _dropping_none(
                reference=item.reference,
                what=item.what,
                author=item.author,
                until=_instant(item.until) if item.until else None,
                review_due=_instant(item.review_due) if item.review_due else None,
                overdue_review=item.overdue_review,
            )
            for item in picture.restrictions
        ],
    }


def _restriction(item: ActiveRestriction, now: datetime) -> str:
    parts = [f"<strong>Restriction</strong>: {isolated(item.what)} ({escaped(item.author)})"]
    if item.until is not None:
        parts.append(f"until {clock_time(item.until, now)}")
    if item.review_due is not None:
        css = "overdue" if item.overdue_review else "due"
        left, _ = relative(item.review_due, now)
        state = "review overdue" if item.overdue_review else "review due"
        parts.append(
            f'<span class="{css}">{state} {clock_time(item.review_due, now)} '
            f"({escaped(left)})</span>"
        )
    return f"<li>{'; '.join(parts)}</li>"


def _action(item: OpenAction, now: datetime) -> str:
    status = item.status.replace("-", " ")
    parts = [
        f"<strong>Action</strong>: {isolated(item.what)} — {escaped(item.owner)}, {escaped(status)}"
    ]
    if item.due is not None:
        left, _ = relative(item.due, now)
        css = "overdue" if item.overdue else "due"
        parts.append(
            f'<span class="{css}">due {clock_time(item.due, now)} ({escaped(left)})</span>'
        )
    return f"<li>{'; '.join(parts)}</li>"


def _count(n: int, one: str, many: str) -> str:
    return "" if n == 0 else f"{n} {one if n == 1 else many}"


def _dropping_none(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _instant(moment: datetime) -> str:
    return format_instant(moment, fixed_width=False)
