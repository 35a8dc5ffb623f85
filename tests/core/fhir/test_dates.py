from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.fhir.dates import EARLIEST, LATEST, DateRange, format_instant, parse_date_range


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def span(value: str) -> DateRange:
    result = parse_date_range(value)
    assert result is not None, value
    return result


def test_a_year_is_the_whole_year() -> None:
    assert span("2026") == DateRange(utc(2026, 1, 1), utc(2026, 12, 31, 23, 59, 59, 999999))


def test_a_month_is_the_whole_month() -> None:
    assert span("2026-11") == DateRange(utc(2026, 11, 1), utc(2026, 11, 30, 23, 59, 59, 999999))


def test_december_ends_on_new_years_eve() -> None:
    assert span("2026-12").high == utc(2026, 12, 31, 23, 59, 59, 999999)


@pytest.mark.parametrize(("year", "last_day"), [(2024, 29), (2026, 28), (2000, 29), (1900, 28)])
def test_february_has_29_days_only_in_a_leap_year(year: int, last_day: int) -> None:
    assert span(f"{year}-02").high == utc(year, 2, last_day, 23, 59, 59, 999999)


def test_a_day_is_the_whole_day() -> None:
    assert span("2026-11-22") == DateRange(utc(2026, 11, 22), utc(2026, 11, 22, 23, 59, 59, 999999))


def test_february_29_exists_in_a_leap_year() -> None:
    assert span("2024-02-29").low == utc(2024, 2, 29)


def test_a_minute_is_the_whole_minute() -> None:
    assert span("2026-11-22T10:15Z") == DateRange(
        utc(2026, 11, 22, 10, 15), utc(2026, 11, 22, 10, 15, 59, 999999)
    )


def test_a_second_is_the_whole_second() -> None:
    assert span("2026-11-22T10:15:30Z") == DateRange(
        utc(2026, 11, 22, 10, 15, 30), utc(2026, 11, 22, 10, 15, 30, 999999)
    )


@pytest.mark.parametrize(
    ("fraction", "low_us", "high_us"),
    [
        ("1", 100000, 199999),
        ("12", 120000, 129999),
        ("123", 123000, 123999),
        ("1234", 123400, 123499),
        ("12345", 123450, 123459),
        ("123456", 123456, 123456),
        ("1234567", 123456, 123456),
        ("12345678", 123456, 123456),
        ("123456789", 123456, 123456),
        ("000", 0, 999),
    ],
)
def test_a_fraction_spans_what_its_digits_leave_open(
    fraction: str, low_us: int, high_us: int
) -> None:
    assert span(f"2026-11-22T10:15:30.{fraction}Z") == DateRange(
        utc(2026, 11, 22, 10, 15, 30, low_us), utc(2026, 11, 22, 10, 15, 30, high_us)
    )


def test_ten_fraction_digits_are_refused() -> None:
    assert parse_date_range("2026-11-22T10:15:30.1234567890Z") is None


@pytest.mark.parametrize(
    ("value", "low"),
    [
        ("2026-11-22T10:15:00+01:00", utc(2026, 11, 22, 9, 15)),
        ("2026-11-22T10:15:00-05:30", utc(2026, 11, 22, 15, 45)),
        ("2026-11-22T23:30:00-05:30", utc(2026, 11, 23, 5, 0)),
        ("2026-01-01T00:30:00+01:00", utc(2025, 12, 31, 23, 30)),
        ("2026-11-22T10:15:00+00:00", utc(2026, 11, 22, 10, 15)),
        ("2026-11-22T10:15:00-00:00", utc(2026, 11, 22, 10, 15)),
        ("2026-11-22T10:15:00Z", utc(2026, 11, 22, 10, 15)),
        ("2026-11-22T10:15:00", utc(2026, 11, 22, 10, 15)),
    ],
)
def test_an_offset_is_converted_to_utc_and_no_zone_means_utc(value: str, low: datetime) -> None:
    result = span(value)

    assert result.low == low
    assert result.low.utcoffset() == timedelta(0)
    assert result.high == low + timedelta(seconds=1) - timedelta(microseconds=1)


def test_a_minute_with_an_offset_is_converted_too() -> None:
    assert span("2026-11-22T10:15+01:00").low == utc(2026, 11, 22, 9, 15)


def test_the_range_is_always_in_utc() -> None:
    for value in ("2026", "2026-11", "2026-11-22", "2026-11-22T10:15:00+01:00"):
        result = span(value)
        assert result.low.tzinfo is UTC
        assert result.high.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        "",
        "26",
        "20261",
        "2026-13",
        "2026-00",
        "2026-13-01",
        "2026-02-30",
        "2026-02-29",
        "2026-04-31",
        "2026-11-00",
        "20261101",
        "2026-1-1",
        "2026-11-1",
        "2026/11/01",
        "2026-11-01T",
        "2026-11-01T10",
        "2026-11-01T25:00:00Z",
        "2026-11-01T24:00:00Z",
        "2026-11-01T10:60:00Z",
        "2026-11-01T10:15:61Z",
        "2026-11-01T10:15:00.Z",
        "2026-11-01T10:15:00+0100",
        "2026-11-01T10:15:00+25:00",
        "2026-11-01T10:15:00 Z",
        "2026-11-01 10:15:00Z",
        "2026-11-01Z",
        " 2026",
        "2026\n",
        "0000",
        "10000",
        "\uff12\uff10\uff12\uff16",  # full-width digits
        "\u0662\u0660\u0662\u0666-01-01",  # Arabic-Indic digits
    ],
)
def test_invalid_values_give_none(value: str) -> None:
    assert parse_date_range(value) is None


def test_the_year_9999_ends_at_the_latest_instant() -> None:
    assert span("9999") == DateRange(utc(9999, 1, 1), LATEST)


@pytest.mark.parametrize(
    ("value", "low"),
    [
        ("9999-12", utc(9999, 12, 1)),
        ("9999-12-31", utc(9999, 12, 31)),
        ("9999-12-31T23:59Z", utc(9999, 12, 31, 23, 59)),
        ("9999-12-31T23:59:59Z", utc(9999, 12, 31, 23, 59, 59)),
        ("9999-12-31T23:59:59.9Z", utc(9999, 12, 31, 23, 59, 59, 900000)),
        ("9999-12-31T23:59:59.999999Z", LATEST),
        ("9999-12-31T23:59:59.9999999Z", LATEST),
        ("9999-12-31T23:59:59+00:00", utc(9999, 12, 31, 23, 59, 59)),
    ],
)
def test_spans_at_the_end_of_year_9999_end_at_the_latest_instant(value: str, low: datetime) -> None:
    assert span(value) == DateRange(low, LATEST)


def test_a_span_just_before_the_end_does_not_reach_it() -> None:
    assert span("9999-12-30").high == utc(9999, 12, 30, 23, 59, 59, 999999)
    assert span("9999-11").high == utc(9999, 11, 30, 23, 59, 59, 999999)


def test_an_instant_after_the_latest_in_utc_gives_none() -> None:
    assert parse_date_range("9999-12-31T23:00:00-05:00") is None


def test_the_first_year_starts_at_the_earliest_instant() -> None:
    assert span("0001").low == EARLIEST


def test_format_instant_gives_utc_with_microseconds_and_z() -> None:
    moment = datetime(2026, 11, 22, 11, 15, 0, 123456, tzinfo=timezone(timedelta(hours=1)))

    assert format_instant(moment) == "2026-11-22T10:15:00.123456Z"


def test_format_instant_always_writes_six_fraction_digits() -> None:
    assert format_instant(utc(2026, 11, 22, 10, 15)) == "2026-11-22T10:15:00.000000Z"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (EARLIEST, "0001-01-01T00:00:00.000000Z"),
        (utc(999, 12, 31, 23, 59, 59), "0999-12-31T23:59:59.000000Z"),
        (LATEST, "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_format_instant_writes_four_digit_years(moment: datetime, text: str) -> None:
    assert format_instant(moment) == text


offsets = st.builds(
    timezone,
    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
        lambda minutes: timedelta(minutes=minutes)
    ),
)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets)
)
def test_a_formatted_instant_parses_back_to_the_one_microsecond_range_it_names(
    moment: datetime,
) -> None:
    result = parse_date_range(format_instant(moment))

    assert result is not None
    assert result.low == result.high == moment
    assert result.low.tzinfo is UTC


@pytest.mark.parametrize("moment", [EARLIEST, LATEST])
def test_the_extreme_instants_round_trip(moment: datetime) -> None:
    assert parse_date_range(format_instant(moment)) == DateRange(moment, moment)
