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

# The NHS number's OID, which older systems use instead of the UK Core system.
NHS_NUMBER_OID = "urn:oid:2.16.840.1.113883.2.1.4.1"

# A local patient identifier: an organisation's own number for a person with no NHS
# number yet. Its system is registered for that organisation (organisations.yaml); the
# person's identifier is then `system|value`, which fits the store's 255 characters.
LOCAL_SYSTEM_MAX_LENGTH = 190
# Printable ASCII after the scheme, without the bar that separates system from value.
_LOCAL_SYSTEM_SHAPE = re.compile(r"(?:https?://|urn:oid:|urn:uuid:)[!-{}~]+")
_LOCAL_VALUE_SHAPE = re.compile(r"[A-Za-z0-9\-._:/]{1,64}")

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


def is_local_system(system: str) -> bool:
    """An absolute URI (http, https, urn:oid, urn:uuid) of at most 190 printable ASCII
    characters, with no bar, that is not a UK Core system (nor a near miss of one): one an
    organisation may register for its local patient identifiers."""
    return (
        len(system) <= LOCAL_SYSTEM_MAX_LENGTH
        and _LOCAL_SYSTEM_SHAPE.fullmatch(system) is not None
        and system not in (NHS_NUMBER_SYSTEM, ODS_ORGANISATION_SYSTEM, ODS_SITE_SYSTEM)
        and not is_nhs_number_near_miss(system)
        and system not in ODS_SYSTEM_NEAR_MISSES
    )


def is_valid_local_value(value: str) -> bool:
    """1 to 64 letters, digits and - . _ : / (no space, no bar: it is searched as a token)."""
    return _LOCAL_VALUE_SHAPE.fullmatch(value) is not None


def is_nhs_number_near_miss(system: str) -> bool:
    """A system that is not the NHS number's but was surely meant as it (http for https,
    another case, a trailing slash, the NHS number OID): the refusal says which to use."""
    if system == NHS_NUMBER_SYSTEM:
        return False
    bare = system.strip().lower().rstrip("/").removeprefix("https://").removeprefix("http://")
    return bare == "fhir.nhs.uk/id/nhs-number" or system == NHS_NUMBER_OID
