from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.fhir.identifiers import is_valid_nhs_number, is_valid_ods_code

WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def modulus_11_check(prefix: str) -> int:
    """An independent statement of the NHS Modulus 11 rule (10 means "never issued")."""
    check = (
        11 - sum(int(digit) * weight for digit, weight in zip(prefix, WEIGHTS, strict=True)) % 11
    )
    return 0 if check == 11 else check


@pytest.mark.parametrize(
    "nhs_number",
    [
        "9434765919",
        "9000000009",
        "4010232137",
        "9434765900",  # 11 - sum % 11 == 11, so the check digit is 0
    ],
)
def test_known_valid_nhs_numbers_are_accepted(nhs_number: str) -> None:
    assert is_valid_nhs_number(nhs_number)


@pytest.mark.parametrize("nhs_number", ["9434765918", "9000000008", "4010232136", "9434765901"])
def test_a_wrong_check_digit_is_refused(nhs_number: str) -> None:
    assert not is_valid_nhs_number(nhs_number)


def test_the_prefix_used_for_check_digit_10_really_computes_10() -> None:
    assert modulus_11_check("123456789") == 10


@pytest.mark.parametrize("final_digit", "0123456789")
def test_every_final_digit_is_refused_when_the_check_digit_would_be_10(final_digit: str) -> None:
    assert not is_valid_nhs_number("123456789" + final_digit)


def test_all_zeros_is_refused_although_the_arithmetic_passes() -> None:
    assert modulus_11_check("000000000") == 0
    assert not is_valid_nhs_number("0000000000")


@pytest.mark.parametrize(
    "nhs_number",
    [
        "943476591",  # 9 digits
        "94347659190",  # 11 digits
        "",
        "943476591X",
        "ABCDEFGHIJ",
        "943 476 5919",
        " 9434765919",
        "9434765919 ",
        "9434765919\n",
        "943-476-5919",
        "\uff19\uff14\uff13\uff14\uff17\uff16\uff15\uff19\uff11\uff19",  # full-width digits
        "+943476591",
    ],
)
def test_anything_but_exactly_ten_ascii_digits_is_refused(nhs_number: str) -> None:
    assert not is_valid_nhs_number(nhs_number)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_final_digit_completes_a_prefix_unless_the_check_is_10(prefix: str) -> None:
    valid = [digit for digit in "0123456789" if is_valid_nhs_number(prefix + digit)]
    check = modulus_11_check(prefix)
    if check == 10 or prefix == "000000000":
        assert valid == []
    else:
        assert valid == [str(check)]


@pytest.mark.parametrize("ods_code", ["RZZ", "A81001", "8J123", "RRE01", "ABCDE12345"])
def test_ods_codes_of_3_to_10_upper_case_letters_and_digits_are_accepted(ods_code: str) -> None:
    assert is_valid_ods_code(ods_code)


@pytest.mark.parametrize(
    "ods_code",
    ["", "RZ", "ABCDE123456", "rzz", "Rzz", "RZ Z", "RZ-1", "RZZ\n", " RZZ", "R\u00c9Z"],
)
def test_ods_codes_of_any_other_shape_are_refused(ods_code: str) -> None:
    assert not is_valid_ods_code(ods_code)
