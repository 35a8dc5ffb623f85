"""FHIR date, dateTime and instant values as inclusive UTC ranges.

A value stands for the whole span its precision names: "2026-11" is all of November.
Searches compare ranges (FHIR R4 search, 3.1.1.4.2), so one representation serves both
the indexed values and the values in a query.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

_DATE_TIME = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?P<fraction>\.\d{1,9})?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?",
    re.ASCII,  # FHIR dates are [0-9]; int() would also read other scripts' digits.
)
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class DateRange:
    low: datetime
    high: datetime


def parse_date_range(value: str) -> DateRange | None:
    """The inclusive UTC range a FHIR date/dateTime/instant stands for; None if invalid.

    A time without a zone is taken as UTC (the server's zone).
    """
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return None
    parts = match.groupdict()
    try:
        year = int(parts["year"])
        if parts["month"] is None:
            start = datetime(year, 1, 1, tzinfo=UTC)
            if year == LATEST.year:
                return DateRange(start, LATEST)
            return DateRange(start, datetime(year + 1, 1, 1, tzinfo=UTC) - _ONE_MICROSECOND)
        month = int(parts["month"])
        if parts["day"] is None:
            start = datetime(year, month, 1, tzinfo=UTC)
            days = calendar.monthrange(year, month)[1]
            return _until(start, timedelta(days=days))
        day = int(parts["day"])
        if parts["hour"] is None:
            start = datetime(year, month, day, tzinfo=UTC)
            return _until(start, timedelta(days=1))
        zone = UTC if parts["zone"] in (None, "Z") else _offset(parts["zone"])
        start = datetime(year, month, day, int(parts["hour"]), int(parts["minute"]), tzinfo=zone)
        if parts["second"] is None:
            return _span(start, timedelta(minutes=1))
        start = start.replace(second=int(parts["second"]))
        if parts["fraction"] is None:
            return _span(start, timedelta(seconds=1))
        digits = parts["fraction"][1:]
        start = start.replace(microsecond=int(digits[:6].ljust(6, "0")))
        if len(digits) >= 6:
            return _span(start, _ONE_MICROSECOND)
        return _span(start, timedelta(microseconds=10 ** (6 - len(digits))))
    except (ValueError, OverflowError):
        return None


def format_instant(moment: datetime, *, fixed_width: bool = True) -> str:
    """A FHIR instant in UTC, ending Z: the one formatter every instant is written with.

    Fixed width (the default) always has six digits of fraction, 2026-11-22T10:15:00.123456Z:
    the form of the access log, its checkpoints and meta.lastUpdated. Otherwise a fraction
    is written only where there is one, 2026-11-22T10:15:00Z: the form of the dataset
    resources and the dataset API.
    """
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    # isoformat, not strftime: %Y does not pad years before 1000 to four digits.
    timespec = "microseconds" if fixed_width or utc.microsecond else "seconds"
    return utc.isoformat(timespec=timespec) + "Z"


def _span(start: datetime, width: timedelta) -> DateRange:
    return _until(start.astimezone(UTC), width)


def _until(start: datetime, width: timedelta) -> DateRange:
    """[start, start + width) as an inclusive range; a span reaching past LATEST ends there."""
    if LATEST - start < width:
        return DateRange(start, LATEST)
    return DateRange(start, start + width - _ONE_MICROSECOND)


def _offset(zone: str) -> tzinfo:
    sign = 1 if zone[0] == "+" else -1
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
