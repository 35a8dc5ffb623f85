"""The purpose-of-use and justification headers."""

from __future__ import annotations

import pytest

from consent.purposes import Purpose
from gateway.auth.purpose import PurposeHeaderError, justification, requested_purpose


@pytest.mark.parametrize("code", ["TREAT", "ETREAT", "BTG", "safeguarding", "service-improvement"])
def test_each_purpose_code_is_understood(code: str) -> None:
    assert requested_purpose(code) is Purpose(code)


def test_no_header_means_the_tokens_default() -> None:
    assert requested_purpose(None) is None
    assert justification(None) is None


@pytest.mark.parametrize("code", ["treat", "HQUALIMP", "", "TREAT,BTG"])
def test_other_codes_are_refused_without_repeating_them(code: str) -> None:
    with pytest.raises(PurposeHeaderError) as raised:
        requested_purpose(code)
    assert raised.value.header == "X-Purpose-Of-Use"
    assert "TREAT, ETREAT, BTG, safeguarding, service-improvement" in str(raised.value)


def test_a_justification_is_percent_decoded_utf8() -> None:
    assert justification("Risk%20to%20life%20%E2%80%93%20999") == "Risk to life \u2013 999"


@pytest.mark.parametrize(
    ("header", "problem"),
    [("   ", "is empty"), ("%FF%FE", "UTF-8"), ("a%0Ab", "control"), ("x" * 1001, "longer")],
)
def test_an_unusable_justification_is_refused(header: str, problem: str) -> None:
    with pytest.raises(PurposeHeaderError, match=problem):
        justification(header)
