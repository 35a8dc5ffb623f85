"""UK identifier systems and their checks (UK Core conventions)."""

from __future__ import annotations

import re

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANISATION_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE_SYSTEM = "https://fhir.nhs.uk/Id/ods-site-code"

# Systems seen in the wild that are near-misses for the ODS organisation system; a sender
# using one of them almost certainly meant the UK Core system, so we say so instead of
# silently storing an identifier nobody can search for.
ODS_SYSTEM_NEAR_MISSES = frozenset(
    {
        "http://fhir.nhs.uk/Id/ods-organization-code",
        "https://fhir.nhs.uk/Id/ods-organisation-code",
        "http://fhir.nhs.uk/Id/ods-organisation-code",
        "https://fhir.nhs.uk/Id/ods-code",
        "urn:oid:2.16.840.1.113883.2.1.3.2.4.19.1",
    }
)

_NHS_NUMBER_SHAPE = re.compile(r"[0-9]{10}")
_ODS_CODE_SHAPE = re.compile(r"[A-Z0-9]{3,10}")
_MODULUS_11_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def is_valid_nhs_number(value: str) -> bool:
    """Ten digits whose last is the Modulus 11 check digit of the first nine.

    A computed check digit of 10 means the number was never issued; 11 maps to 0.
    All-zero numbers pass the arithmetic but are never issued, so they are refused too.
    """
    if not _NHS_NUMBER_SHAPE.fullmatch(value) or value == "0000000000":
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(value[:9], _MODULUS_11_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(value[9])


def is_valid_ods_code(value: str) -> bool:
    """ODS codes are 3 to 10 upper-case letters and digits (RZZ, A81001, 8J123)."""
    return _ODS_CODE_SHAPE.fullmatch(value) is not None
