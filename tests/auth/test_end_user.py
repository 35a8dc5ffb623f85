"""The BaRS end-user headers: Base64 JSON Organization and PractitionerRole."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from gateway.auth.caller import EndUser
from gateway.auth.end_user import (
    END_USER_ORGANISATION,
    REQUESTING_PRACTITIONER,
    EndUserHeaderError,
    end_user_from_headers,
)

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
SDS_USER = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE = "https://fhir.nhs.uk/Id/sds-role-profile-id"


def _encoded(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def _organisation(*identifiers: Any, **members: Any) -> dict[str, Any]:
    return {"resourceType": "Organization", "identifier": list(identifiers), **members}


def _practitioner_role(*identifiers: Any, **members: Any) -> dict[str, Any]:
    return {"resourceType": "PractitionerRole", "identifier": list(identifiers), **members}


ORGANISATION = _organisation({"system": ODS, "value": "RZZ"}, name="Example Trust")
PRACTITIONER = _practitioner_role({"system": SDS_ROLE, "value": "555021935107"})


def test_both_headers_absent_is_no_end_user() -> None:
    assert end_user_from_headers(None, None) is None


def test_both_headers_give_the_ods_code_and_practitioner_identifiers() -> None:
    end_user = end_user_from_headers(_encoded(ORGANISATION), _encoded(PRACTITIONER))
    assert end_user == EndUser(
        organisation_ods="RZZ",
        practitioner_identifiers=((SDS_ROLE, "555021935107"),),
        practitioner_resource_type="PractitionerRole",
    )


def test_the_organisation_alone_is_enough() -> None:
    end_user = end_user_from_headers(_encoded(ORGANISATION), None)
    assert end_user == EndUser(organisation_ods="RZZ")


def test_the_practitioner_alone_is_enough() -> None:
    end_user = end_user_from_headers(None, _encoded(PRACTITIONER))
    assert end_user is not None
    assert end_user.organisation_ods is None
    assert end_user.practitioner_resource_type == "PractitionerRole"
    assert end_user.practitioner_identifiers == ((SDS_ROLE, "555021935107"),)


def test_the_ods_code_is_found_among_other_identifiers() -> None:
    organisation = _organisation(
        {"system": "https://example.org/local", "value": "local-1"},
        {"system": ODS, "value": "A81001"},
    )
    end_user = end_user_from_headers(_encoded(organisation), None)
    assert end_user is not None
    assert end_user.organisation_ods == "A81001"


def test_the_practitioner_reference_identifier_is_kept_after_the_role_identifiers() -> None:
    role = _practitioner_role(
        {"system": SDS_ROLE, "value": "555021935107"},
        practitioner={"identifier": {"system": SDS_USER, "value": "555021931105"}},
    )
    end_user = end_user_from_headers(None, _encoded(role))
    assert end_user is not None
    assert end_user.practitioner_identifiers == (
        (SDS_ROLE, "555021935107"),
        (SDS_USER, "555021931105"),
    )


def test_a_practitioner_identified_only_through_its_practitioner_reference_is_accepted() -> None:
    role = {
        "resourceType": "PractitionerRole",
        "practitioner": {"identifier": {"system": SDS_USER, "value": "555021931105"}},
    }
    end_user = end_user_from_headers(None, _encoded(role))
    assert end_user is not None
    assert end_user.practitioner_identifiers == ((SDS_USER, "555021931105"),)


def test_surrounding_whitespace_is_tolerated() -> None:
    end_user = end_user_from_headers(f"  {_encoded(ORGANISATION)}\t", None)
    assert end_user is not None
    assert end_user.organisation_ods == "RZZ"


def _refusal(organisation: str | None, practitioner: str | None) -> EndUserHeaderError:
    with pytest.raises(EndUserHeaderError) as raised:
        end_user_from_headers(organisation, practitioner)
    return raised.value


def _raw(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ORGANISATION_REFUSALS: list[tuple[str, str]] = [
    ("not base64 !", "Base64"),
    (_encoded(ORGANISATION)[:-2] + "*=", "Base64"),
    (_raw("not json at all"), "Base64-encoded JSON"),
    (_raw("{'resourceType': 'Organization'}"), "Base64-encoded JSON"),
    (_encoded([ORGANISATION]), "one object"),
    (_encoded("RZZ"), "one object"),
    (_raw('{"resourceType": "Organization", "resourceType": "Organization"}'), "JSON"),
    (_encoded(PRACTITIONER), "Organization"),
    (_encoded({"identifier": [{"system": ODS, "value": "RZZ"}]}), "Organization"),
    (_encoded(_organisation()), "one ODS code"),
    (_encoded(_organisation({"system": SDS_USER, "value": "RZZ"})), "one ODS code"),
    (
        _encoded(_organisation({"system": ODS, "value": "RZZ"}, {"system": ODS, "value": "AZZ"})),
        "one ODS code",
    ),
    (_encoded(_organisation({"system": ODS, "value": "rzz"})), "one ODS code"),
    (_encoded(_organisation({"system": ODS, "value": "R"})), "one ODS code"),
    (_encoded(_organisation({"system": ODS, "value": "RZZ-1"})), "one ODS code"),
    (_encoded({**ORGANISATION, "identifier": {"system": ODS, "value": "RZZ"}}), "list"),
    (_encoded({**ORGANISATION, "identifier": "RZZ"}), "list"),
    (_encoded(_organisation(*[{"system": ODS, "value": "RZZ"}] * 11)), "up to 10"),
    (_encoded(_organisation("RZZ")), "objects"),
    (_encoded(_organisation({"value": "RZZ"})), "system and a value"),
    (_encoded(_organisation({"system": ODS})), "system and a value"),
    (_encoded(_organisation({"system": "", "value": "RZZ"})), "system and a value"),
    (_encoded(_organisation({"system": ODS, "value": 7})), "system and a value"),
    (_encoded(_organisation({"system": "s" * 256, "value": "RZZ"})), "too long"),
    (_encoded(_organisation({"system": ODS, "value": "R" * 65})), "too long"),
    ("A" * 8196, "longer than 8192"),
]
ORGANISATION_REFUSAL_IDS = [
    "not-base64",
    "bad-base64-character",
    "base64-of-text",
    "base64-of-python-dict",
    "json-array",
    "json-string",
    "duplicate-key",
    "practitioner-role",
    "no-resource-type",
    "no-identifiers",
    "no-ods-identifier",
    "two-ods-codes",
    "lower-case-ods-code",
    "short-ods-code",
    "ods-code-with-hyphen",
    "identifier-object-not-list",
    "identifier-string",
    "eleven-identifiers",
    "identifier-entry-not-object",
    "identifier-without-system",
    "identifier-without-value",
    "identifier-empty-system",
    "identifier-value-number",
    "system-too-long",
    "value-too-long",
    "header-too-long",
]


@pytest.mark.parametrize(("header", "problem"), ORGANISATION_REFUSALS, ids=ORGANISATION_REFUSAL_IDS)
def test_an_unusable_organisation_header_is_refused_naming_the_header(
    header: str, problem: str
) -> None:
    refused = _refusal(header, _encoded(PRACTITIONER))
    assert refused.header == END_USER_ORGANISATION
    message = str(refused)
    assert message.startswith(END_USER_ORGANISATION)
    assert problem in message


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("%%%", "Base64"),
        (_raw("<xml/>"), "Base64-encoded JSON"),
        (_encoded([PRACTITIONER]), "one object"),
        (_encoded(ORGANISATION), "PractitionerRole"),
        (_encoded({**PRACTITIONER, "resourceType": "Practitioner"}), "PractitionerRole"),
        (_encoded(_practitioner_role()), "identify the practitioner"),
        (_encoded({"resourceType": "PractitionerRole"}), "identify the practitioner"),
        (_encoded({**PRACTITIONER, "identifier": {"system": SDS_ROLE}}), "list"),
        (_encoded(_practitioner_role({"value": "555021935107"})), "system and a value"),
        (
            _encoded({**PRACTITIONER, "practitioner": {"identifier": {"value": "5550"}}}),
            "system and a value",
        ),
        (
            _encoded({**PRACTITIONER, "practitioner": {"identifier": [{"system": SDS_USER}]}}),
            "objects",
        ),
        (_encoded({**PRACTITIONER, "padding": "x" * 7000}), "longer than 8192"),
    ],
    ids=[
        "not-base64",
        "base64-of-xml",
        "json-array",
        "organization",
        "practitioner",
        "empty-identifiers",
        "no-identifiers",
        "identifier-object-not-list",
        "identifier-without-system",
        "practitioner-identifier-without-system",
        "practitioner-identifier-list",
        "header-too-long",
    ],
)
def test_an_unusable_practitioner_header_is_refused_naming_the_header(
    header: str, problem: str
) -> None:
    refused = _refusal(_encoded(ORGANISATION), header)
    assert refused.header == REQUESTING_PRACTITIONER
    message = str(refused)
    assert message.startswith(REQUESTING_PRACTITIONER)
    assert problem in message


def test_a_header_of_exactly_8192_characters_is_not_refused_for_its_length() -> None:
    organisation = _organisation({"system": ODS, "value": "RZZ"}, name="")
    padding = 8192 - len(_encoded(organisation))
    # Each 3 characters of name add 4 of Base64; pad to land on 8192 exactly.
    organisation["name"] = "x" * (padding // 4 * 3)
    header = _encoded(organisation)
    assert len(header) == 8192
    end_user = end_user_from_headers(header, None)
    assert end_user is not None
    assert end_user.organisation_ods == "RZZ"


SECRET_VALUES = ("SECRETSYSTEM", "SECRET-VALUE", "secretods", "Dr Secret Name")


@pytest.mark.parametrize(
    ("organisation", "practitioner"),
    [
        (_encoded(_organisation({"system": ODS, "value": "secretods"})), None),
        (_encoded(_organisation({"system": "SECRETSYSTEM", "value": "SECRET-VALUE"})), None),
        (_encoded({"resourceType": "Dr Secret Name"}), None),
        (_encoded(["Dr Secret Name"]), None),
        (_raw("Dr Secret Name"), None),
        (None, _encoded({"resourceType": "SECRETSYSTEM", "name": "Dr Secret Name"})),
        (None, _encoded(_practitioner_role({"system": "SECRETSYSTEM"}))),
        (None, _encoded(_practitioner_role({"system": "SECRETSYSTEM", "value": "S" * 65}))),
    ],
    ids=[
        "bad-ods-code",
        "no-ods-identifier",
        "wrong-resource-type",
        "array",
        "text",
        "practitioner-wrong-type",
        "practitioner-identifier-without-value",
        "practitioner-value-too-long",
    ],
)
def test_the_refusal_never_quotes_the_decoded_values(
    organisation: str | None, practitioner: str | None
) -> None:
    message = str(_refusal(organisation, practitioner))
    for secret in (*SECRET_VALUES, "S" * 65):
        assert secret.lower() not in message.lower()
