"""The BaRS end-user headers: who, at which organisation, is behind a system's call.

NHSD-End-User-Organisation carries a Base64 JSON object based on a FHIR Organization
(with its ODS code); NHSD-Requesting-Practitioner one based on a PractitionerRole (with
an SDS role profile or user identifier). Both are optional; when sent they must be well
formed, because the access log records them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM, is_valid_ods_code
from core.fhir.invisible_characters import INVISIBLE_CHARACTERS, has_invisible_character
from core.fhir.issues import ContentError
from core.fhir.json_input import ShapeLimits, parse_json_object
from gateway.auth.caller import EndUser

END_USER_ORGANISATION = "NHSD-End-User-Organisation"
REQUESTING_PRACTITIONER = "NHSD-Requesting-Practitioner"
_MAX_HEADER_CHARACTERS = 8192
_LIMITS = ShapeLimits(max_depth=8, max_array_length=20)
_MAX_IDENTIFIERS = 10


class EndUserHeaderError(ValueError):
    """A header that is present but not usable; the message names the header only."""

    def __init__(self, header: str, problem: str) -> None:
        super().__init__(f"{header} {problem}")
        self.header = header


def end_user_from_headers(organisation: str | None, practitioner: str | None) -> EndUser | None:
    if organisation is None and practitioner is None:
        return None
    ods = _organisation_ods(organisation) if organisation is not None else None
    identifiers: tuple[tuple[str, str], ...] = ()
    if practitioner is not None:
        identifiers = _practitioner_identifiers(practitioner)
    return EndUser(
        organisation_ods=ods,
        practitioner_identifiers=identifiers,
        practitioner_resource_type="PractitionerRole" if practitioner is not None else None,
    )


def _decoded(header: str, value: str) -> dict[str, Any]:
    if len(value) > _MAX_HEADER_CHARACTERS:
        raise EndUserHeaderError(header, "is longer than 8192 characters")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise EndUserHeaderError(header, "must be Base64-encoded JSON") from None
    try:
        return parse_json_object(raw, _LIMITS)
    except ContentError:
        raise EndUserHeaderError(header, "must be Base64-encoded JSON (one object)") from None


def _organisation_ods(value: str) -> str:
    resource = _decoded(END_USER_ORGANISATION, value)
    if resource.get("resourceType") != "Organization":
        raise EndUserHeaderError(END_USER_ORGANISATION, "must be based on an Organization")
    codes = [
        identifier["value"]
        for identifier in _identifiers(END_USER_ORGANISATION, resource)
        if identifier["system"] == ODS_ORGANISATION_SYSTEM
    ]
    if len(codes) != 1 or not is_valid_ods_code(codes[0]):
        raise EndUserHeaderError(
            END_USER_ORGANISATION, f"must carry one ODS code ({ODS_ORGANISATION_SYSTEM})"
        )
    return codes[0]


def _practitioner_identifiers(value: str) -> tuple[tuple[str, str], ...]:
    resource = _decoded(REQUESTING_PRACTITIONER, value)
    if resource.get("resourceType") != "PractitionerRole":
        raise EndUserHeaderError(REQUESTING_PRACTITIONER, "must be based on a PractitionerRole")
    found = _identifiers(REQUESTING_PRACTITIONER, resource)
    practitioner = resource.get("practitioner")
    if isinstance(practitioner, Mapping) and "identifier" in practitioner:
        found += _identifiers(REQUESTING_PRACTITIONER, {"identifier": [practitioner["identifier"]]})
    if not found:
        raise EndUserHeaderError(
            REQUESTING_PRACTITIONER, "must identify the practitioner (an identifier)"
        )
    return tuple((identifier["system"], identifier["value"]) for identifier in found)


def _identifiers(header: str, resource: Mapping[str, Any]) -> list[dict[str, str]]:
    identifiers = resource.get("identifier", [])
    if not isinstance(identifiers, list) or len(identifiers) > _MAX_IDENTIFIERS:
        raise EndUserHeaderError(header, "identifier must be a list of up to 10")
    result = []
    for identifier in identifiers:
        if not isinstance(identifier, Mapping):
            raise EndUserHeaderError(header, "identifier entries must be objects")
        system, code = identifier.get("system"), identifier.get("value")
        if not (isinstance(system, str) and isinstance(code, str) and system and code):
            raise EndUserHeaderError(header, "identifiers need a system and a value")
        if len(system) > 255 or len(code) > 64:
            raise EndUserHeaderError(header, "has an identifier that is too long")
        if has_invisible_character(system) or has_invisible_character(code):
            # The access log records it: it must not display as someone else's.
            raise EndUserHeaderError(header, f"has an identifier that {INVISIBLE_CHARACTERS}")
        result.append({"system": system, "value": code})
    return result
