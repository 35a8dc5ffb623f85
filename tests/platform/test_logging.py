"""The redaction processor: the last line of defence before a log line is written."""

from __future__ import annotations

from gateway.platform.logging import REDACTED, redact


def test_keys_not_on_the_allow_list_are_blanked() -> None:
    event = redact(None, "info", {"event": "x", "name": "Alex Example", "birth_date": "1994"})
    assert event == {"event": "x", "name": REDACTED, "birth_date": REDACTED}


def test_allowed_values_are_scrubbed_of_nhs_numbers_however_written() -> None:
    event = redact(
        None,
        "info",
        {"event": "seen 9434765919", "path": "/fhir/Patient/943 476 5919", "status": 200},
    )
    assert event == {
        "event": "seen [nhs-number]",
        "path": "/fhir/Patient/[nhs-number]",
        "status": 200,
    }


def test_non_string_values_on_the_allow_list_are_rendered_and_scrubbed() -> None:
    event = redact(None, "info", {"event": "x", "where": ["9434765919"]})
    assert event["where"] == "['[nhs-number]']"


def test_a_uuid_is_logged_whole_even_with_ten_digits_in_a_row() -> None:
    request_id = "ce123456-7890-4259-8123-012345678901"
    event = redact(None, "info", {"event": "x", "request_id": request_id})
    assert event["request_id"] == request_id
