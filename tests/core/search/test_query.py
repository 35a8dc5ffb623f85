from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.fhir.dates import parse_date_range
from core.search.errors import FormatNotServed, SearchRefused
from core.search.query import (
    Cursor,
    DateCriterion,
    DateValue,
    IdCriterion,
    Include,
    LastUpdatedCriterion,
    PagingLimits,
    Prefix,
    ReferenceCriterion,
    SearchQuery,
    TokenCriterion,
    TokenValue,
    parse_search,
)

LIMITS = PagingLimits(default_count=20, max_count=100)
NHS = "https://fhir.nhs.uk/Id/nhs-number"


def search(
    *params: tuple[str, str], resource_type: str = "ServiceRequest", lenient: bool = False
) -> SearchQuery:
    return parse_search(resource_type, list(params), LIMITS, lenient=lenient)


def refused(*params: tuple[str, str], resource_type: str = "ServiceRequest") -> SearchRefused:
    with pytest.raises(SearchRefused) as caught:
        search(*params, resource_type=resource_type)
    return caught.value


def tokens(value: str) -> tuple[TokenValue, ...]:
    [criterion] = search(("status", value)).criteria
    assert isinstance(criterion, TokenCriterion)
    return criterion.values


def dated(prefix: Prefix, text: str) -> DateValue:
    date_range = parse_date_range(text)
    assert date_range is not None
    return DateValue(prefix, date_range)


def encoded(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_no_parameters_give_the_defaults() -> None:
    assert search() == SearchQuery(
        resource_type="ServiceRequest",
        criteria=(),
        count=20,
        newest_first=True,
        includes=(),
        total=True,
        cursor=None,
        applied=(),
    )


# --- tokens ---------------------------------------------------------------------------


def test_a_bare_code_matches_any_system() -> None:
    assert tokens("active") == (TokenValue("active", None, system_given=False),)


def test_system_and_code() -> None:
    [criterion] = search(("identifier", f"{NHS}|9434765919")).criteria

    assert criterion == TokenCriterion(
        "identifier", (TokenValue("9434765919", NHS, system_given=True),)
    )


def test_a_leading_pipe_means_no_system() -> None:
    assert tokens("|active") == (TokenValue("active", None, system_given=True),)


def test_a_trailing_pipe_means_any_code_in_the_system() -> None:
    assert tokens("https://s|") == (TokenValue(None, "https://s", system_given=True),)


def test_commas_separate_values_that_are_ored() -> None:
    assert tokens("active,https://s|completed,|draft") == (
        TokenValue("active", None, system_given=False),
        TokenValue("completed", "https://s", system_given=True),
        TokenValue("draft", None, system_given=True),
    )


def test_an_escaped_comma_is_part_of_the_value() -> None:
    assert tokens(r"https://s|a\,b") == (TokenValue("a,b", "https://s", system_given=True),)


def test_an_escaped_pipe_is_part_of_the_value() -> None:
    assert tokens(r"a\|b") == (TokenValue("a|b", None, system_given=False),)


def test_token_values_are_cut_to_the_indexed_length() -> None:
    [value] = tokens("s" * 300 + "|" + "c" * 300)

    assert value == TokenValue("c" * 255, "s" * 255, system_given=True)


@pytest.mark.parametrize("value", ["", "|", "active,", ",active", "a|b|c"])
def test_empty_or_overpiped_token_values_are_refused(value: str) -> None:
    refused(("status", value))


def test_a_repeated_parameter_gives_one_criterion_each() -> None:
    query = search(("status", "active"), ("status", "draft"))

    assert query.criteria == (
        TokenCriterion("status", (TokenValue("active", None, system_given=False),)),
        TokenCriterion("status", (TokenValue("draft", None, system_given=False),)),
    )


# --- references -----------------------------------------------------------------------


def test_a_reference_given_as_type_and_id() -> None:
    [criterion] = search(("patient", "Patient/p1")).criteria

    assert criterion == ReferenceCriterion("patient", ("Patient/p1",))


def test_a_bare_id_means_each_target_type() -> None:
    assert search(("patient", "p1")).criteria == (ReferenceCriterion("patient", ("Patient/p1",)),)
    assert search(("subject", "p1")).criteria == (
        ReferenceCriterion("subject", ("Patient/p1", "Group/p1")),
    )


def test_an_absolute_reference_is_normalised() -> None:
    [criterion] = search(
        ("requester", "https://trust.example.org/fhir/Organization/RZZ/_history/2")
    ).criteria

    assert criterion == ReferenceCriterion("requester", ("Organization/RZZ",))


def test_reference_values_are_ored() -> None:
    [criterion] = search(("requester", "Organization/o1,Practitioner/d1")).criteria

    assert criterion == ReferenceCriterion("requester", ("Organization/o1", "Practitioner/d1"))


def test_a_bare_id_is_refused_where_the_parameter_may_point_anywhere() -> None:
    error = refused(("subject", "p1"), resource_type="Task")

    assert error.expression == "subject"


@pytest.mark.parametrize("value", ["#p1", "urn:uuid:1", "", "Patient/", "a b"])
def test_a_value_that_is_not_a_reference_is_refused(value: str) -> None:
    assert refused(("patient", value)).expression == "patient"


def test_the_identifier_modifier_searches_the_reference_identifier() -> None:
    [criterion] = search(("patient:identifier", f"{NHS}|9434765919")).criteria

    assert criterion == TokenCriterion(
        "patient:identifier", (TokenValue("9434765919", NHS, system_given=True),)
    )


def test_the_identifier_modifier_is_only_for_references() -> None:
    error = refused(("status:identifier", "x"))

    assert error.expression == "status"


@pytest.mark.parametrize("name", ["status:not", "patient:missing", "authored:exact"])
def test_unsupported_modifiers_are_refused_or_dropped_when_lenient(name: str) -> None:
    assert refused((name, "x")).expression == name.partition(":")[0]

    query = search((name, "x"), ("status", "active"), lenient=True)

    assert query.applied == (("status", "active"),)
    assert len(query.criteria) == 1


# --- dates ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", list(Prefix))
def test_every_date_prefix(prefix: Prefix) -> None:
    [criterion] = search(("authored", f"{prefix.value}2026-11-22")).criteria

    assert criterion == DateCriterion("authored", (dated(prefix, "2026-11-22"),))


def test_a_date_without_a_prefix_is_eq() -> None:
    [criterion] = search(("authored", "2026-11")).criteria

    assert isinstance(criterion, DateCriterion)
    assert criterion.values[0].prefix is Prefix.EQ
    assert criterion.values[0].range.low == datetime(2026, 11, 1, tzinfo=UTC)


def test_date_values_are_ored() -> None:
    [criterion] = search(("authored", "lt2026-01-01,gt2026-12-31")).criteria

    assert criterion == DateCriterion(
        "authored",
        (
            dated(Prefix.LT, "2026-01-01"),
            dated(Prefix.GT, "2026-12-31"),
        ),
    )


@pytest.mark.parametrize(
    "value", ["", "soon", "ap2026", "gt", "2026-13-01", "xx2026", "gt2026,", "eq 2026"]
)
def test_invalid_dates_are_refused(value: str) -> None:
    assert refused(("authored", value)).expression == "authored"


# --- _id and _lastUpdated -------------------------------------------------------------


def test_id_takes_comma_separated_ids() -> None:
    assert search(("_id", "a1,b-2.c")).criteria == (IdCriterion(("a1", "b-2.c")),)


@pytest.mark.parametrize("value", ["", "a b", "a,", "a/b", "x" * 65])
def test_id_refuses_what_is_not_an_id(value: str) -> None:
    assert refused(("_id", value)).expression == "_id"


def test_last_updated_takes_prefixed_dates() -> None:
    [criterion] = search(("_lastUpdated", "ge2026-11-22T10:00:00Z")).criteria

    assert criterion == LastUpdatedCriterion((dated(Prefix.GE, "2026-11-22T10:00:00Z"),))


def test_last_updated_refuses_an_invalid_date() -> None:
    assert refused(("_lastUpdated", "yesterday")).expression == "_lastUpdated"


def test_common_parameters_work_on_types_without_their_own_parameters() -> None:
    query = search(("_id", "o1"), resource_type="Organization")

    assert query.criteria == (IdCriterion(("o1",)),)


# --- paging, sorting, totals, format ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "count"),
    [("5", 5), ("100", 100), ("101", 100), ("500", 100), ("0", 0), ("0005", 5), ("9" * 5000, 100)],
)
def test_count_is_capped_at_the_maximum(value: str, count: int) -> None:
    assert search(("_count", value)).count == count


@pytest.mark.parametrize("value", ["", "-1", "1.5", "ten", " 5", "+5", "\u00b2", "\u0665"])
def test_count_refuses_what_is_not_a_whole_number_in_ascii_digits(value: str) -> None:
    assert refused(("_count", value)).expression == "_count"


@pytest.mark.parametrize(
    ("value", "newest_first"), [("_lastUpdated", False), ("-_lastUpdated", True)]
)
def test_sort_by_last_updated_either_way(value: str, newest_first: bool) -> None:
    assert search(("_sort", value)).newest_first is newest_first


@pytest.mark.parametrize("value", ["", "status", "-status", "_id", "lastUpdated"])
def test_sort_refuses_anything_else(value: str) -> None:
    assert refused(("_sort", value)).expression == "_sort"


@pytest.mark.parametrize(
    ("value", "total"), [("none", False), ("estimate", True), ("accurate", True)]
)
def test_total(value: str, total: bool) -> None:
    assert search(("_total", value)).total is total


def test_total_refuses_anything_else() -> None:
    assert refused(("_total", "all")).expression == "_total"


@pytest.mark.parametrize("value", ["json", "application/json", "application/fhir+json"])
def test_json_formats_are_accepted_and_not_echoed(value: str) -> None:
    query = search(("_format", value))

    assert query.applied == ()
    assert query.criteria == ()


@pytest.mark.parametrize("value", ["xml", "application/fhir+xml", "text/html", "", "JSON"])
def test_other_formats_are_not_acceptable(value: str) -> None:
    with pytest.raises(FormatNotServed):
        search(("_format", value))


# --- _include -------------------------------------------------------------------------


def test_include_a_reference_parameter_of_the_searched_type() -> None:
    assert search(("_include", "ServiceRequest:patient")).includes == (
        Include("ServiceRequest", "patient", None, iterate=False),
    )


def test_include_with_a_target_type() -> None:
    assert search(("_include", "ServiceRequest:requester:Organization")).includes == (
        Include("ServiceRequest", "requester", "Organization", iterate=False),
    )


def test_include_iterate_may_start_from_another_type() -> None:
    query = search(
        ("_include", "ServiceRequest:supporting-info"), ("_include:iterate", "Flag:patient")
    )

    assert query.includes == (
        Include("ServiceRequest", "supporting-info", None, iterate=False),
        Include("Flag", "patient", None, iterate=True),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("_include", "Flag:patient"),  # another source type without :iterate
        ("_include", "ServiceRequest:nope"),
        ("_include", "ServiceRequest:status"),  # not a reference parameter
        ("_include", "ServiceRequest:authored"),
        ("_include", "ServiceRequest:patient:Organization"),  # not a target of patient
        ("_include", "ServiceRequest"),
        ("_include", "ServiceRequest:patient:Patient:x"),
        ("_include", "*"),
        ("_include:iterate", "Observation:patient"),
        ("_include:recurse", "ServiceRequest:patient"),
    ],
)
def test_unsupported_includes_are_refused(name: str, value: str) -> None:
    assert refused((name, value)).expression == "_include"


# --- unknown parameters and what was applied ------------------------------------------


def test_an_unknown_parameter_is_refused_by_name() -> None:
    error = refused(("colour", "red"))

    assert "colour" in error.message
    assert error.expression == "colour"
    assert "handling=lenient" in error.message


def test_a_parameter_of_another_type_is_unknown_here() -> None:
    refused(("authored", "2026"), resource_type="Patient")


@pytest.mark.parametrize("name", ["nhs9434765919", "9434765919", "x" * 65, "n\u00e4me", "a b"])
def test_an_unknown_name_that_could_carry_data_is_not_repeated(name: str) -> None:
    error = refused((name, "x"))

    assert name not in error.message
    assert not any(character.isdigit() for character in error.message)
    assert error.expression is None


def test_the_value_of_an_unknown_parameter_is_never_repeated() -> None:
    error = refused(("colour", "9434765919"))

    assert "9434765919" not in error.message


def test_unknown_parameters_are_dropped_when_lenient() -> None:
    query = search(("colour", "red"), ("nhs9434765919", "x"), lenient=True)

    assert query.criteria == ()
    assert query.applied == ()


def test_applied_keeps_only_applied_parameters_in_order() -> None:
    cursor = Cursor(datetime(2026, 11, 22, tzinfo=UTC), "s1", "next").encode()

    query = search(
        ("status", "active"),
        ("_format", "json"),
        ("colour", "red"),
        ("_count", "10"),
        ("_cursor", cursor),
        ("patient:identifier", f"{NHS}|9434765919"),
        ("status:not", "draft"),
        ("_include", "ServiceRequest:patient"),
        ("_sort", "_lastUpdated"),
        ("_total", "none"),
        ("_id", "s1"),
        ("authored", "ge2026"),
        lenient=True,
    )

    assert query.applied == (
        ("status", "active"),
        ("_count", "10"),
        ("patient:identifier", f"{NHS}|9434765919"),
        ("_include", "ServiceRequest:patient"),
        ("_sort", "_lastUpdated"),
        ("_total", "none"),
        ("_id", "s1"),
        ("authored", "ge2026"),
    )
    assert len(query.criteria) == 4


# --- cursors --------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["next", "prev"])
def test_a_cursor_survives_encoding(direction: str) -> None:
    cursor = Cursor(
        datetime(2026, 11, 22, 10, 15, 0, 123456, tzinfo=timezone(timedelta(hours=1))),
        "s-1.x",
        direction,
    )

    token = cursor.encode()

    assert Cursor.decode(token) == cursor
    assert "=" not in token


def test_a_cursor_in_the_query_is_decoded_and_not_applied() -> None:
    cursor = Cursor(datetime(2026, 11, 22, tzinfo=UTC), "s1", "prev")

    query = search(("_cursor", cursor.encode()))

    assert query.cursor == cursor
    assert query.cursor_token == cursor.encode()
    assert query.applied == ()


def test_no_cursor_has_no_token() -> None:
    assert search().cursor_token is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a cursor!",
        "\u00e9",
        "AAAA",
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        encoded([]),
        encoded("text"),
        encoded(42),
        encoded({"t": "2026-11-22T00:00:00+00:00", "i": "s1"}),
        encoded({"t": "2026-11-22T00:00:00", "i": "s1", "d": "next"}),  # no zone
        encoded({"t": "yesterday", "i": "s1", "d": "next"}),
        encoded({"t": 5, "i": "s1", "d": "next"}),
        encoded({"t": "2026-11-22T00:00:00+00:00", "i": "s1", "d": "sideways"}),
        base64.urlsafe_b64encode(b"[" * 5000).decode(),  # deeper than the JSON decoder goes
    ],
)
def test_an_invalid_cursor_is_an_invalid_search(token: str) -> None:
    with pytest.raises(SearchRefused) as caught:
        Cursor.decode(token)

    assert caught.value.expression == "_cursor"
    assert caught.value.message == "The paging cursor is not valid."


def test_an_invalid_cursor_in_the_query_is_refused() -> None:
    assert refused(("_cursor", "not a cursor!")).expression == "_cursor"
