from __future__ import annotations

import pytest

from core.fhir.issues import ContentError, IssueCode
from core.fhir.json_input import ShapeLimits, parse_json_object

LIMITS = ShapeLimits(max_depth=4, max_array_length=3)
SECRET = "9434765919"


def nested_objects(levels: int) -> bytes:
    """`levels` objects inside each other, the innermost empty: {"a":{"a":{}}} is 3."""
    return b'{"a":' * (levels - 1) + b"{}" + b"}" * (levels - 1)


def refusal(body: bytes, limits: ShapeLimits = LIMITS) -> ContentError:
    with pytest.raises(ContentError) as caught:
        parse_json_object(body, limits)
    return caught.value


def test_a_json_object_is_returned_as_a_dict() -> None:
    body = b'{"resourceType": "Patient", "active": true, "name": [{"family": "Smith"}]}'

    assert parse_json_object(body, LIMITS) == {
        "resourceType": "Patient",
        "active": True,
        "name": [{"family": "Smith"}],
    }


def test_the_default_limits_are_32_levels_and_1000_elements() -> None:
    assert ShapeLimits() == ShapeLimits(max_depth=32, max_array_length=1000)


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1,}', b"{'a': 1}", b'{"a": 1} x'])
def test_malformed_json_is_a_structure_issue_with_its_position(body: bytes) -> None:
    error = refusal(body)

    assert [issue.code for issue in error.issues] == [IssueCode.STRUCTURE]
    assert "not well-formed JSON (line 1, column" in error.issues[0].diagnostics


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null", b"true"])
def test_a_json_value_that_is_not_an_object_is_refused(body: bytes) -> None:
    error = refusal(body)

    assert error.issues[0].code is IssueCode.STRUCTURE
    assert error.issues[0].diagnostics == "The body must be a JSON object."


@pytest.mark.parametrize("body", [b'{"a": "\xff"}', b"\xff\xfe{\x00}\x00", b'{"a": "caf\xe9"}'])
def test_a_body_that_is_not_utf8_is_refused(body: bytes) -> None:
    error = refusal(body)

    assert error.issues[0].diagnostics == "The body is not valid UTF-8."


def test_nesting_exactly_at_the_depth_limit_is_accepted() -> None:
    assert parse_json_object(nested_objects(LIMITS.max_depth), LIMITS)


def test_nesting_one_level_over_the_depth_limit_is_refused() -> None:
    error = refusal(nested_objects(LIMITS.max_depth + 1))

    assert error.issues[0].code is IssueCode.STRUCTURE
    assert "deeper than 4 levels" in error.issues[0].diagnostics


def test_arrays_count_as_levels_too() -> None:
    assert parse_json_object(b'{"a": [[{}]]}', LIMITS)
    refusal(b'{"a": [[[{}]]]}')


def test_nesting_deep_enough_to_exhaust_the_parser_is_a_content_error() -> None:
    # Python's own decoder gives up with RecursionError long before 100000 levels.
    error = refusal(b"[" * 100_000)

    assert "deeper than" in error.issues[0].diagnostics


def test_well_formed_nesting_deep_enough_to_exhaust_the_parser_is_a_content_error() -> None:
    body = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    assert "deeper than" in refusal(body).issues[0].diagnostics


def test_nesting_the_parser_can_read_but_over_the_limit_is_refused_with_default_limits() -> None:
    assert "deeper than 32" in refusal(nested_objects(500), ShapeLimits()).issues[0].diagnostics


def test_an_array_exactly_at_the_length_limit_is_accepted() -> None:
    assert parse_json_object(b'{"a": [1, 2, 3]}', LIMITS) == {"a": [1, 2, 3]}


def test_an_array_one_over_the_length_limit_is_refused() -> None:
    error = refusal(b'{"a": [1, 2, 3, 4]}')

    assert error.issues[0].code is IssueCode.TOO_LONG
    assert "more than 3 elements" in error.issues[0].diagnostics


def test_a_long_array_is_refused_wherever_it_is_nested() -> None:
    refusal(b'{"a": [{"b": [1, 2, 3, 4]}]}')


def test_a_number_with_more_digits_than_python_will_convert_is_a_content_error() -> None:
    # int() refuses strings of more than 4300 digits with a plain ValueError.
    error = refusal(b'{"a": ' + b"9" * 5000 + b"}")

    assert error.issues[0].code is IssueCode.TOO_LONG


@pytest.mark.parametrize(
    "body",
    [
        f'{{"nhs": {SECRET},}}'.encode(),
        f'{{"nhs": "{SECRET}"'.encode(),
        f"'{SECRET}'".encode(),
        f'"{SECRET}"'.encode(),
        f"[{SECRET}]".encode(),
        f'{{"nhs": "{SECRET}\xff"}}'.encode("latin-1"),
        f'{{"nhs": [{SECRET}, 1, 2, 3]}}'.encode(),
        f'{{"nhs": [[[[["{SECRET}"]]]]]}}'.encode(),
        b'{"a": ' + SECRET.encode() * 500 + b"}",
    ],
)
def test_no_message_repeats_the_input(body: bytes) -> None:
    error = refusal(body)

    assert SECRET not in str(error)
    for issue in error.issues:
        assert SECRET not in issue.diagnostics
        assert issue.expression is None or SECRET not in issue.expression


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        (
            b'{"resourceType": "Patient", "name": [{"family": "x\\ud800"}]}',
            "Patient.name[0].family",
        ),
        (b'{"note": "\\udc00 trailing half"}', "note"),
        (b'{"a": {"b\\udfff": 1}}', "a"),
    ],
)
def test_a_lone_surrogate_is_refused_naming_where_it_is(body: bytes, expression: str) -> None:
    issue = refusal(body).issues[0]

    assert issue.code is IssueCode.VALUE
    assert issue.expression == expression
    assert "surrogate" in issue.diagnostics


def test_a_surrogate_pair_is_one_character_and_accepted() -> None:
    assert parse_json_object(b'{"note": "\\ud83d\\ude00"}', LIMITS) == {"note": "\U0001f600"}
