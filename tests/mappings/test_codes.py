"""The one list of codes: standard codes are the ones their sources define, and every code
the gateway mints lives in a system the gateway owns."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from gateway.configuration.models import PurposeOfUse
from mappings import codes, identifiers
from mappings.codes import SUBTYPES, Code, Subtype

GATEWAY = "https://fhir.mh-gateway.example.org/"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
THO = "http://terminology.hl7.org/CodeSystem/"
BALP = "https://profiles.ihe.net/ITI/BALP/CodeSystem/"
REST = "http://hl7.org/fhir/restful-interaction"

# A second, independent statement of every standard code used, as its source publishes
# it. A code added to a standard system must be added here too, deliberately.
STANDARD_CODES = {
    (DCM, "110100", "Application Activity"),  # DICOM PS3.16 CID 400
    (DCM, "110113", "Security Alert"),
    (DCM, "110114", "User Authentication"),
    (DCM, "110122", "Login"),  # DICOM PS3.15 A.5.3.12
    (DCM, "110127", "Emergency Override Started"),  # DICOM PS3.16 CID 403
    (DCM, "110150", "Application"),  # DICOM PS3.16 CID 402
    (DCM, "110151", "Application Launcher"),
    (DCM, "110152", "Destination Role ID"),
    (DCM, "110153", "Source Role ID"),
    (THO + "audit-event-type", "rest", "Restful Operation"),
    (THO + "audit-entity-type", "1", "Person"),
    (THO + "audit-entity-type", "2", "System Object"),
    (THO + "object-role", "1", "Patient"),
    (THO + "object-role", "4", "Domain Resource"),
    (THO + "object-role", "24", "Query"),
    (THO + "security-source-type", "4", "Application Server"),
    (THO + "v3-ParticipationType", "IRCP", "information recipient"),
    (THO + "v3-ParticipationType", "AUT", "author (originator)"),
    (THO + "v3-RoleClass", "PROV", "healthcare provider"),
    (THO + "extra-security-role-type", "authserver", "authorization server"),
    (THO + "provenance-participant-type", "custodian", "Custodian"),
    (THO + "v2-0203", "PRN", "Provider number"),
    (BALP + "BasicAuditEntityType", "XrequestId",
     "transport specific unique identifier where http X-Request-Id is used"),
    (BALP + "UserAgentTypes", "AuthzOauthService", "OAuth Authorization Server"),
    (THO + "v3-ActReason", "TREAT", "treatment"),  # THO v3 ActReason (PurposeOfUse)
    (THO + "v3-ActReason", "ETREAT", "Emergency Treatment"),
    (THO + "v3-ActReason", "BTG", "break the glass"),
    (THO + "consentscope", "patient-privacy", "Privacy Consent"),
    (THO + "restful-security-service", "SMART-on-FHIR", "SMART-on-FHIR"),
    (THO + "v3-ObservationValue", "REDACTED", "redacted"),
    *((REST, code, code) for code in (
        "create", "read", "vread", "update", "delete", "search-type", "history-instance",
        "operation",
    )),
}  # fmt: skip


def every_code() -> dict[str, Code]:
    found = {name: value for name, value in vars(codes).items() if isinstance(value, Code)}
    found |= {f"Subtype.{name}": value for name, value in vars(Subtype).items()}
    return {name: value for name, value in found.items() if isinstance(value, Code)}


def test_a_code_is_a_fhir_coding() -> None:
    assert Code("urn:x", "c", "C").coding() == {"system": "urn:x", "code": "c", "display": "C"}


def test_no_code_is_listed_twice() -> None:
    keys = [(code.system, code.code) for code in every_code().values()]
    assert len(keys) == len(set(keys))


def test_standard_codes_are_exactly_those_their_sources_define() -> None:
    standard = {
        (code.system, code.code, code.display)
        for code in every_code().values()
        if not code.system.startswith(GATEWAY)
    }
    assert standard == STANDARD_CODES


def test_gateway_codes_live_in_gateway_code_systems() -> None:
    for name, code in every_code().items():
        if code.system.startswith(GATEWAY):
            assert code.system.startswith(codes.GATEWAY_CODE_SYSTEM_BASE), name
            assert code.display, name
            assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code.code), name


def test_gateway_identifier_systems_live_under_the_gateway_id_base() -> None:
    for system in (
        codes.CLIENT_ID_SYSTEM,
        codes.X_REQUEST_ID_SYSTEM,
        codes.X_CORRELATION_ID_SYSTEM,
    ):
        assert system.startswith(codes.GATEWAY_IDENTIFIER_BASE)


def test_uk_core_identifier_systems_are_the_ones_mappings_identifiers_defines() -> None:
    assert codes.NHS_NUMBER_SYSTEM is identifiers.NHS_NUMBER_SYSTEM
    assert codes.ODS_ORGANISATION_SYSTEM is identifiers.ODS_ORGANISATION_SYSTEM
    assert codes.ODS_SITE_SYSTEM is identifiers.ODS_SITE_SYSTEM


def test_subtypes_lists_every_subtype_once() -> None:
    named = [value for value in vars(Subtype).values() if isinstance(value, Code)]
    assert list(SUBTYPES) == named
    assert Subtype.BREAK_GLASS.system == DCM  # a standard code exists, so none is minted


def test_purposes_of_use_are_the_ones_configuration_accepts() -> None:
    assert set(codes.PURPOSES_OF_USE) == set(get_args(PurposeOfUse))
    for name, purpose in codes.PURPOSES_OF_USE.items():
        assert codes.purpose_of_use(name) is purpose
        assert purpose.system == codes.PURPOSE_OF_USE_SYSTEM


def test_an_unknown_purpose_of_use_is_refused_not_minted() -> None:
    with pytest.raises(ValueError, match="not a purpose of use"):
        codes.purpose_of_use("marketing")
