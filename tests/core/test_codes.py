"""The one list of codes: standard codes are the ones their sources define, and every code
the gateway mints lives in a system the gateway owns."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import get_args

import pytest

from core.codes import catalogue
from core.codes import common as codes
from core.codes import handover as handover_codes
from core.codes import sharing as sharing_codes
from core.codes.audit import SUBTYPES, Subtype
from core.codes.common import Code
from core.fhir import identifiers
from core.handover import dataset as datasets
from gateway.configuration.models import PurposeOfUse

GATEWAY = "https://fhir.mh-gateway.example.org/"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
THO = "http://terminology.hl7.org/CodeSystem/"
BALP = "https://profiles.ihe.net/ITI/BALP/CodeSystem/"
REST = "http://hl7.org/fhir/restful-interaction"
SCT = "http://snomed.info/sct"
BARS_EVENTS = "https://fhir.nhs.uk/CodeSystem/message-events-bars"
BARS_REASONS = "https://fhir.nhs.uk/CodeSystem/message-reason-bars"
UK_NHS_STATUS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"

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
    (THO + "flag-category", "safety", "Safety"),
    (THO + "provenance-participant-type", "author", "Author"),
    (THO + "provenance-participant-type", "performer", "Performer"),
    (THO + "v3-DataOperation", "UPDATE", "revise"),
    (THO + "v3-DataOperation", "CREATE", "create"),
    # SNOMED CT, as BaRS's safeguarding codes and the FHIR R4 examples publish them.
    (SCT, "401206008", "At risk for deliberate self harm"),
    (SCT, "225444004", "At risk for suicide"),
    (SCT, "129707006", "At risk for other-directed violence"),
    (BARS_EVENTS, "servicerequest-request", "Service Request - Request"),
    (BARS_EVENTS, "servicerequest-response", "Service Request - Response"),
    (BARS_REASONS, "new", "New"),  # BaRS CodeSystem message-reason-bars
    (BARS_REASONS, "update", "Update"),
    *((UK_NHS_STATUS, code, display) for code, display in (
        ("01", "Number present and verified"),
        ("02", "Number present but not traced"),
        ("03", "Trace required"),
        ("04", "Trace attempted - No match or multiple match found"),
        ("05", "Trace needs to be resolved - (NHS number or patient detail conflict)"),
        ("06", "Trace in progress"),
        ("07", "Number not present and trace not required"),
        ("08", "Trace postponed (baby under six weeks old)"),
    )),
    *((REST, code, code) for code in (
        "create", "read", "vread", "update", "patch", "delete", "search-type",
        "history-instance", "operation", "transaction",
    )),
}  # fmt: skip


def every_code() -> dict[str, Code]:
    found = {name: value for name, value in catalogue().items() if isinstance(value, Code)}
    for name, value in catalogue().items():
        if isinstance(value, MappingProxyType):
            found |= {
                f"{name}[{key}]": code for key, code in value.items() if isinstance(code, Code)
            }
    found |= {f"Subtype.{name}": value for name, value in vars(Subtype).items()}
    return {name: value for name, value in found.items() if isinstance(value, Code)}


def test_a_code_is_a_fhir_coding() -> None:
    assert Code("urn:x", "c", "C").coding() == {"system": "urn:x", "code": "c", "display": "C"}


def test_no_code_is_listed_twice() -> None:
    # The same object may be named twice (a constant and its code system's table).
    distinct = {id(code): code for code in every_code().values()}.values()
    keys = [(code.system, code.code) for code in distinct]
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
    assert set(sharing_codes.PURPOSES_OF_USE) == set(get_args(PurposeOfUse))
    for name, purpose in sharing_codes.PURPOSES_OF_USE.items():
        assert sharing_codes.purpose_of_use(name) is purpose
        assert purpose.system == codes.PURPOSE_OF_USE_SYSTEM


def test_an_unknown_purpose_of_use_is_refused_not_minted() -> None:
    with pytest.raises(ValueError, match="not a purpose of use"):
        sharing_codes.purpose_of_use("marketing")


def _verhoeff_valid(number: str) -> bool:
    # SNOMED CT identifiers end in a Verhoeff check digit: it catches a mistyped code.
    d = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
         [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
         [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
         [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
         [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]  # fmt: skip
    p = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
         [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
         [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
         [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]  # fmt: skip
    check = 0
    for position, digit in enumerate(reversed(number)):
        check = d[check][p[position % 8][int(digit)]]
    return check == 0


def test_every_snomed_code_has_a_valid_check_digit() -> None:
    snomed = [code for code in every_code().values() if code.system == SCT]
    assert snomed
    for code in snomed:
        assert _verhoeff_valid(code.code), code
    assert not _verhoeff_valid("401206007")  # the check would catch a typo


def test_every_risk_type_and_dataset_enumeration_has_a_gateway_code() -> None:
    assert set(handover_codes.RISK_TYPES) == set(get_args(datasets.RiskType))
    assert set(handover_codes.RISK_SNOMED) <= set(handover_codes.RISK_TYPES)
    assert set(handover_codes.PATHWAYS) == set(get_args(datasets.Pathway))
    assert set(handover_codes.REQUEST_TYPES) == set(get_args(datasets.RequestType))
    assert set(handover_codes.RISK_LEVELS) == set(get_args(datasets.RiskLevel))
    assert set(handover_codes.ESCALATION_LEVELS) == set(get_args(datasets.EscalationLevel))
    assert set(handover_codes.SHARING_BASES) == set(get_args(datasets.SharingBasis))
    assert set(handover_codes.NHS_NUMBER_VERIFICATION) == set(get_args(datasets.NhsNumberStatus))
