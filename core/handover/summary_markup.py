"""The summary page's small pieces of HTML: every value escaped, every value from the
sender isolated in its own <bdi>, times as England reads them (machine-readable in UTC),
phone numbers tap-to-call. Pure functions of their arguments: no clock, no locale."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from core.codes.handover import HANDOVER_SECTIONS

ENGLAND = ZoneInfo("Europe/London")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def escaped(value: str) -> str:
    return html.escape(value, quote=True)


def isolated(value: str) -> str:
    """Free text from the sender: escaped, and isolated so that its direction (and any
    bidi control in it) stays inside its own <bdi> and cannot reorder the page."""
    return f"<bdi>{escaped(value)}</bdi>"


def optional(value: str | None) -> str | None:
    return None if value is None else isolated(value)


def joined(*values: str | None, sep: str = ", ") -> str | None:
    """Free-text values as HTML, each isolated on its own, or None if none is given."""
    present = [isolated(value) for value in values if value]
    return sep.join(present) if present else None


def yes_no(value: bool | None) -> str | None:
    return None if value is None else ("Yes" if value else "No")


def section(code: str, body: str) -> str:
    """A section headed with the handover-section display its Communication part carries."""
    if not body:
        return ""
    title = HANDOVER_SECTIONS[code].display
    return f'<section id="{escaped(code)}">\n<h2>{escaped(title)}</h2>\n{body}\n</section>'


def text_section(code: str, text: str | None) -> str:
    return section(code, f'<p class="text">{isolated(text)}</p>') if text else ""


def definitions(rows: Iterable[tuple[str, str | None]]) -> str:
    """Rows whose value is already HTML; a row without a value is left out."""
    present = [f"<dt>{escaped(term)}</dt><dd>{value}</dd>" for term, value in rows if value]
    return "<dl>\n" + "\n".join(present) + "\n</dl>" if present else ""


def at_time(moment: datetime) -> str:
    """A UTC instant as England reads it, machine-readable in UTC."""
    utc = moment.astimezone(UTC).replace(microsecond=0)
    local = moment.astimezone(ENGLAND)
    shown = (
        f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}, "
        f"{local.hour:02d}:{local.minute:02d} {local.tzname()}"
    )
    return f'<time datetime="{utc:%Y-%m-%dT%H:%M:%SZ}">{escaped(shown)}</time>'


def clock_time(moment: datetime, now: datetime) -> str:
    """A UTC instant as a time of day in England ("14:25"), with its day when that is not
    today's ("Sun 22 Nov, 14:25"), machine-readable in UTC."""
    utc = moment.astimezone(UTC).replace(microsecond=0)
    local = moment.astimezone(ENGLAND)
    shown = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() != now.astimezone(ENGLAND).date():
        shown = f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}, {shown}"
    return f'<time datetime="{utc:%Y-%m-%dT%H:%M:%SZ}">{escaped(shown)}</time>'


def calendar_date(day: date) -> str:
    shown = f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
    return f'<time datetime="{day.isoformat()}">{escaped(shown)}</time>'


def phone(contact: str) -> str:
    """The contact as written; a tap-to-call link only when it reads as a phone number
    (digits, spaces, brackets and dashes: nothing that needs isolating)."""
    dial = re.sub(r"[\s()\-]", "", contact)
    if re.fullmatch(r"\+?[0-9]{6,15}", dial):
        return f'<a href="tel:{escaped(dial)}">{escaped(contact)}</a>'
    return isolated(contact)


def span_words(minutes: int) -> str:
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    units = [(days, "day"), (hours, "hour")] if days else [(hours, "hour"), (mins, "minute")]
    return " ".join(f"{count} {unit}{'' if count == 1 else 's'}" for count, unit in units if count)


def relative(due: datetime, now: datetime) -> tuple[str, bool]:
    """("in 45 minutes", False) or ("overdue by 2 hours 5 minutes", True).

    Rounded towards urgency: time left is rounded down, time overdue up.
    """
    seconds = (due - now).total_seconds()
    if seconds == 0:
        return "due now", False
    if seconds > 0:
        minutes = int(seconds // 60)
        if minutes == 0:
            return "due in less than a minute", False
        return f"in {span_words(minutes)}", False
    return f"overdue by {span_words(math.ceil(-seconds / 60))}", True
