"""The bad-input matrix for the FHIR REST API.

Bad input gets a clear 4xx and nothing is stored: every case below is sent to the real
application (on SQLite and on PostgreSQL) and must be answered with an OperationOutcome
whose issue codes come from the FHIR IssueType value set, whose expressions point at the
offending element, and which never repeats patient data from the request. The row counts
of the store's tables are the same before and after.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gateway.platform.database import Database
from gateway.platform.schema import resource_versions, resources, search_index
from tests.conftest import emptied, settings_for, started
from tests.tokens import PROVIDER, access_token

# FHIR R4 (4.0.1) IssueType, http://hl7.org/fhir/ValueSet/issue-type (a required binding).
FHIR_ISSUE_TYPES = frozenset(
    {
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational",
    }
)

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_NEAR_MISS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organisation-code"

# Distinctive patient values: none of them may ever appear in an error response.
NAME = "Zebedee"
NHS_NUMBER = "9434765919"  # passes Modulus 11
INVALID_NHS_NUMBER = "9434765918"  # fails Modulus 11
BIRTH_DATE = "1961-07-23"
NOTE = "Zebedee reports voices at night"
PATIENT_VALUES = (NAME, NHS_NUMBER, INVALID_NHS_NUMBER, BIRTH_DATE, NOTE)

MAX_BODY_BYTES = 1_048_576
FHIR_JSON = {"Content-Type": "application/fhir+json"}
LENIENT = {"Prefer": "handling=lenient"}

# An expression names an element, parameter or header; it is never free text.
_EXPRESSION = re.compile(r"[A-Za-z_][A-Za-z0-9_\-.:\[\]]*")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Signs that an exception's own text reached the client.
_EXCEPTION_TEXT = (
    "Traceback",
    "Error(",
    "pydantic",
    "errors.pydantic.dev",
    "sqlalchemy",
    "line 1 column",
)


# --- request bodies ----------------------------------------------------------------------


def service_request(**changes: Any) -> dict[str, Any]:
    """A valid UK Core-style referral; each keyword replaces an element (None removes it)."""
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "subject": {
            "identifier": {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER},
            "display": NAME,
        },
        "requester": {"identifier": {"system": ODS_SYSTEM, "value": "AZZ"}},
        "performer": [{"identifier": {"system": ODS_SYSTEM, "value": "RZZ"}}],
        "authoredOn": "2026-03-01",
        "note": [{"text": NOTE}],
    }
    return _changed(resource, changes)


def patient(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}],
        "name": [{"family": NAME, "given": ["Zeb"]}],
        "birthDate": BIRTH_DATE,
        "managingOrganization": {"identifier": {"system": ODS_SYSTEM, "value": "AZZ"}},
    }
    return _changed(resource, changes)


def _changed(resource: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(resource)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def with_subject_nhs_number(value: str) -> bytes:
    return js(
        service_request(
            subject={"identifier": {"system": NHS_NUMBER_SYSTEM, "value": value}, "display": NAME}
        )
    )


def with_requester(system: str, value: str) -> bytes:
    return js(service_request(requester={"identifier": {"system": system, "value": value}}))


def nested_extensions(depth: int) -> bytes:
    """A Patient whose nested extensions make the JSON `depth` containers deep (even)."""
    extension: dict[str, Any] = {
        "url": "https://example.org/leaf",
        "valueCodeableConcept": {"text": NAME},
    }
    # Patient {, extension [, leaf {, its value {: 4; each branch adds [ and {.
    for _ in range((depth - 4) // 2):
        extension = {"url": "https://example.org/branch", "extension": [extension]}
    return js(patient(extension=[extension]))


def absurdly_deep(levels: int) -> bytes:
    return (
        b'{"resourceType":"Patient","name":[{"family":"'
        + NAME.encode()
        + b'"}],"extension":'
        + b"[" * levels
        + b"]" * levels
        + b"}"
    )


def absurdly_deep_objects(levels: int) -> bytes:
    return (
        b'{"resourceType":"Patient","extension":' + b'{"a":' * levels + b"1" + b"}" * levels + b"}"
    )


def oversized() -> bytes:
    """A valid Patient just over the body limit (the padding is its narrative)."""
    padding = "x" * MAX_BODY_BYTES
    return js(patient(text={"status": "generated", "div": f"<div>{padding}</div>"}))


# --- the case table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    # "{pid}" is replaced (in path and body) by the id of a Patient that exists, which the
    # calling provider (AZZ) manages.
    path: str
    status: int
    codes: frozenset[str]
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    expression: str | None = None
    # Send the body as a stream without Content-Length (Transfer-Encoding: chunked).
    chunked: bool = False


def case(
    name: str,
    method: str,
    path: str,
    status: int,
    codes: str | tuple[str, ...],
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    expression: str | None = None,
    chunked: bool = False,
) -> Any:
    if headers is None:
        headers = FHIR_JSON if body is not None else {}
    return pytest.param(
        Case(
            method,
            path,
            status,
            frozenset((codes,) if isinstance(codes, str) else codes),
            body,
            headers,
            expression,
            chunked,
        ),
        id=name,
    )


SR = "/fhir/ServiceRequest"
SR_EXPR = "ServiceRequest"

CASES = [
    # --- the body is not a JSON object ---
    case("malformed-json", "POST", SR, 400, "structure", body=b'{"resourceType": "Service'),
    case("json-array", "POST", SR, 400, "structure", body=js([service_request()])),
    case("json-string", "POST", SR, 400, "structure", body=js(NAME)),
    case("json-number", "POST", SR, 400, "structure", body=NHS_NUMBER.encode()),
    case("json-null", "POST", SR, 400, "structure", body=b"null"),
    case("empty-body", "POST", SR, 400, "structure", body=b""),
    case(
        "duplicate-key",
        "POST",
        SR,
        400,
        "structure",
        body=js(service_request())[:-1] + b',"status":"revoked"}',
    ),
    case(
        "nan-constant",
        "POST",
        SR,
        400,
        "structure",
        body=js(service_request())[:-1] + b',"extension":[{"url":"http://x","valueDecimal":NaN}]}',
    ),
    case(
        "charset-not-utf-8",
        "POST",
        SR,
        415,
        "not-supported",
        body=js(service_request()),
        headers={"Content-Type": "application/fhir+json; charset=iso-8859-1"},
    ),
    case(
        "not-utf-8",
        "POST",
        "/fhir/Patient",
        400,
        "structure",
        body=js(patient()).replace(NAME.encode(), b"Zeb\xe9dee"),
    ),
    case(
        "unterminated-json",
        "POST",
        SR,
        400,
        "structure",
        body=js(service_request())[:-1] + b',"note":[{"text":"' + NAME.encode() + b'"}',
    ),
    # --- resourceType ---
    case(
        "missing-resourceType",
        "POST",
        SR,
        400,
        "required",
        body=js(service_request(resourceType=None)),
        expression="resourceType",
    ),
    case(
        "resourceType-not-a-string",
        "POST",
        SR,
        400,
        ("invalid", "structure", "not-supported"),
        body=js(service_request(resourceType=["ServiceRequest"])),
        expression="resourceType",
    ),
    case(
        "unsupported-resourceType-in-body",
        "POST",
        SR,
        400,
        ("not-supported", "invalid"),
        body=js(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": NAME},
                "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER}},
            }
        ),
        expression="resourceType",
    ),
    case(
        "resourceType-does-not-match-url",
        "POST",
        SR,
        400,
        "invalid",
        body=js(patient()),
        expression="resourceType",
    ),
    # --- elements ---
    case(
        "unknown-element-top-level",
        "POST",
        SR,
        400,
        "structure",
        body=js(service_request(madeUpElement=NAME)),
        expression=f"{SR_EXPR}.madeUpElement",
    ),
    case(
        "unknown-element-nested",
        "POST",
        SR,
        400,
        "structure",
        body=js(
            service_request(
                subject={
                    "identifier": {"system": NHS_NUMBER_SYSTEM, "value": NHS_NUMBER},
                    "madeUpElement": NAME,
                }
            )
        ),
        expression=f"{SR_EXPR}.subject.madeUpElement",
    ),
    case(
        "invalid-date",
        "POST",
        SR,
        400,
        "value",
        body=js(service_request(authoredOn="2026-13-40")),
        expression=f"{SR_EXPR}.authoredOn",
    ),
    case(
        "invalid-birthDate",
        "POST",
        "/fhir/Patient",
        400,
        "value",
        body=js(patient(birthDate="1961-02-30")),
        expression="Patient.birthDate",
    ),
    case(
        "invalid-status-code",
        "POST",
        SR,
        400,
        ("value", "code-invalid"),
        body=js(service_request(status="bogus")),
        expression=f"{SR_EXPR}.status",
    ),
    case(
        "missing-required-intent",
        "POST",
        SR,
        400,
        "required",
        body=js(service_request(intent=None)),
        expression=f"{SR_EXPR}.intent",
    ),
    case(
        "element-of-wrong-json-type",
        "POST",
        SR,
        400,
        ("structure", "value"),
        body=js(service_request(note={"text": NOTE})),
        expression=f"{SR_EXPR}.note",
    ),
    # --- UK Core identifiers (business rules: 422) ---
    case(
        "nhs-number-fails-modulus-11",
        "POST",
        SR,
        422,
        ("value", "business-rule"),
        body=with_subject_nhs_number(INVALID_NHS_NUMBER),
        expression=f"{SR_EXPR}.subject.identifier.value",
    ),
    case(
        "nhs-number-all-zeros",
        "POST",
        SR,
        422,
        ("value", "business-rule"),
        body=with_subject_nhs_number("0000000000"),
        expression=f"{SR_EXPR}.subject.identifier.value",
    ),
    case(
        "nhs-number-nine-digits",
        "POST",
        SR,
        422,
        ("value", "business-rule"),
        body=with_subject_nhs_number(NHS_NUMBER[:9]),
        expression=f"{SR_EXPR}.subject.identifier.value",
    ),
    case(
        "nhs-number-invalid-on-patient",
        "POST",
        "/fhir/Patient",
        422,
        ("value", "business-rule"),
        body=js(patient(identifier=[{"system": NHS_NUMBER_SYSTEM, "value": INVALID_NHS_NUMBER}])),
        expression="Patient.identifier[0].value",
    ),
    case(
        "ods-near-miss-system",
        "POST",
        SR,
        422,
        ("value", "business-rule"),
        body=with_requester(ODS_NEAR_MISS_SYSTEM, "RZZ"),
        expression=f"{SR_EXPR}.requester.identifier.system",
    ),
    case(
        "ods-code-lower-case",
        "POST",
        SR,
        422,
        ("value", "business-rule"),
        body=with_requester(ODS_SYSTEM, "rzz"),
        expression=f"{SR_EXPR}.requester.identifier.value",
    ),
    # --- characters no store can hold ---
    case(
        "nul-in-identifier-value",
        "POST",
        "/fhir/Patient",
        400,
        "value",
        body=js(patient(identifier=[{"system": "https://example.org/mrn", "value": "A\u0000B"}])),
        expression="Patient.identifier[0].value",
    ),
    # --- size and shape limits ---
    case("body-over-limit", "POST", "/fhir/Patient", 413, "too-long", body=oversized()),
    case(
        "body-over-limit-chunked",
        "POST",
        "/fhir/Patient",
        413,
        "too-long",
        body=oversized(),
        chunked=True,
    ),
    case(
        "body-over-limit-declared",
        "POST",
        "/fhir/Patient",
        413,
        "too-long",
        body=js(patient()),
        headers={**FHIR_JSON, "Content-Length": str(MAX_BODY_BYTES + 1)},
        chunked=True,
    ),
    case("nesting-depth-40", "POST", "/fhir/Patient", 400, "structure", body=nested_extensions(40)),
    case(
        "nesting-depth-100000-arrays",
        "POST",
        "/fhir/Patient",
        400,
        ("structure", "too-long"),
        body=absurdly_deep(100_000),
    ),
    case(
        "nesting-depth-100000-objects",
        "POST",
        "/fhir/Patient",
        400,
        ("structure", "too-long"),
        body=absurdly_deep_objects(100_000),
    ),
    case(
        "array-of-5000",
        "POST",
        "/fhir/Patient",
        400,
        "too-long",
        body=js(patient(name=[{"family": NAME}] * 5000)),
    ),
    # --- media types ---
    case(
        "xml-body",
        "POST",
        "/fhir/Patient",
        415,
        "not-supported",
        body=(
            f'<Patient xmlns="http://hl7.org/fhir"><name><family value="{NAME}"/></name></Patient>'
        ).encode(),
        headers={"Content-Type": "application/fhir+xml"},
    ),
    case(
        "text-plain",
        "POST",
        SR,
        415,
        "not-supported",
        body=js(service_request()),
        headers={"Content-Type": "text/plain"},
    ),
    case(
        "form-encoded-create",
        "POST",
        SR,
        415,
        "not-supported",
        body=f"name={NAME}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    case(
        "no-content-type", "POST", SR, 415, "not-supported", body=js(service_request()), headers={}
    ),
    case(
        "accept-xml-only-on-create",
        "POST",
        SR,
        406,
        "not-supported",
        body=js(service_request()),
        headers={**FHIR_JSON, "Accept": "application/fhir+xml"},
    ),
    case(
        "accept-xml-only-on-search",
        "GET",
        SR,
        406,
        "not-supported",
        headers={"Accept": "application/fhir+xml"},
    ),
    case("format-xml-on-search", "GET", f"{SR}?_format=xml", 406, "not-supported"),
    case(
        "search-by-post-with-json",
        "POST",
        f"{SR}/_search",
        415,
        "not-supported",
        body=js({"subject:identifier": f"{NHS_NUMBER_SYSTEM}|{NHS_NUMBER}"}),
    ),
    # --- update ---
    case(
        "put-id-mismatch",
        "PUT",
        "/fhir/Patient/{pid}",
        400,
        "invalid",
        body=js(patient(id="another-id")),
        expression="Patient.id",
    ),
    case(
        "put-without-id",
        "PUT",
        "/fhir/Patient/{pid}",
        400,
        ("invalid", "required"),
        body=js(patient()),
        expression="Patient.id",
    ),
    case(
        "put-to-missing-id",
        "PUT",
        "/fhir/Patient/no-such-patient",
        404,
        "not-found",
        body=js(patient(id="no-such-patient")),
    ),
    case(
        "put-invalid-content",
        "PUT",
        "/fhir/Patient/{pid}",
        400,
        "structure",
        body=js(patient(id="{pid}", madeUpElement=NAME)),
        expression="Patient.madeUpElement",
    ),
    case(
        "if-match-malformed",
        "PUT",
        "/fhir/Patient/{pid}",
        400,
        "invalid",
        body=js(patient(id="{pid}")),
        headers={**FHIR_JSON, "If-Match": "version one"},
        expression="If-Match",
    ),
    case(
        "if-match-unquoted",
        "PUT",
        "/fhir/Patient/{pid}",
        400,
        "invalid",
        body=js(patient(id="{pid}")),
        headers={**FHIR_JSON, "If-Match": "1"},
        expression="If-Match",
    ),
    case(
        "if-none-exist-unknown-parameter",
        "POST",
        SR,
        400,
        "invalid",
        body=js(service_request()),
        headers={**FHIR_JSON, "If-None-Exist": f"{NHS_NUMBER}=x"},
        expression="If-None-Exist",
    ),
    case(
        "if-none-exist-without-criteria",
        "POST",
        SR,
        400,
        "invalid",
        body=js(service_request()),
        headers={**FHIR_JSON, "If-None-Exist": "_count=1"},
        expression="If-None-Exist",
    ),
    case(
        "method-not-allowed",
        "DELETE",
        "/fhir/Patient/{pid}",
        405,
        "not-supported",
    ),
    # --- search ---
    case(
        "unknown-search-parameter",
        "GET",
        f"{SR}?madeUpParameter=x",
        400,
        ("not-supported", "invalid"),
        expression="madeUpParameter",
    ),
    case(
        "search-parameter-name-is-an-nhs-number",
        "GET",
        f"{SR}?{NHS_NUMBER}=x",
        400,
        ("not-supported", "invalid"),
    ),
    case(
        "search-parameter-name-is-an-nhs-number-by-post",
        "POST",
        f"{SR}/_search",
        400,
        ("not-supported", "invalid"),
        body=f"{NHS_NUMBER}=x".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    case("count-negative", "GET", f"{SR}?_count=-1", 400, "invalid", expression="_count"),
    case("count-not-a-number", "GET", f"{SR}?_count=abc", 400, "invalid", expression="_count"),
    case("sort-unsupported", "GET", f"{SR}?_sort=name", 400, "invalid", expression="_sort"),
    case(
        "lastUpdated-bad-prefix",
        "GET",
        f"{SR}?_lastUpdated=xx2026-01-01",
        400,
        "invalid",
        expression="_lastUpdated",
    ),
    case(
        "lastUpdated-bad-date",
        "GET",
        f"{SR}?_lastUpdated=gt2026-13-40",
        400,
        "invalid",
        expression="_lastUpdated",
    ),
    case(
        "date-parameter-carrying-an-nhs-number",
        "GET",
        f"{SR}?authored={NHS_NUMBER}x",
        400,
        "invalid",
        expression="authored",
    ),
    case(
        "unknown-modifier",
        "GET",
        f"{SR}?subject:exact=Patient/{NHS_NUMBER}",
        400,
        ("not-supported", "invalid"),
        expression="subject",
    ),
    case(
        "reference-value-malformed",
        "GET",
        f"{SR}?subject=https://example.org/{NAME} {NHS_NUMBER}",
        400,
        "invalid",
        expression="subject",
    ),
    case(
        "token-value-with-two-pipes",
        "GET",
        f"{SR}?identifier=a|b|{NHS_NUMBER}",
        400,
        "invalid",
        expression="identifier",
    ),
    case(
        "token-value-empty",
        "GET",
        f"{SR}?identifier=",
        400,
        "invalid",
        expression="identifier",
    ),
    case(
        "nul-in-token-value",
        "GET",
        f"{SR}?identifier=https://example.org/mrn|A%00B",
        400,
        "invalid",
        expression="identifier",
    ),
    case(
        "nul-in-token-value-by-post",
        "POST",
        f"{SR}/_search",
        400,
        "invalid",
        body=b"subject:identifier=https://example.org/mrn|A%00B",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        expression="subject:identifier",
    ),
    case(
        "include-unknown-parameter",
        "GET",
        f"{SR}?_include=ServiceRequest:madeUp",
        400,
        ("not-supported", "invalid"),
        expression="_include",
    ),
    case(
        "include-malformed",
        "GET",
        f"{SR}?_include={NHS_NUMBER}",
        400,
        ("not-supported", "invalid"),
        expression="_include",
    ),
    case("id-malformed", "GET", f"{SR}?_id={NAME}!", 400, "invalid", expression="_id"),
    case("cursor-malformed", "GET", f"{SR}?_cursor={NAME}", 400, "invalid", expression="_cursor"),
    case("total-unsupported", "GET", f"{SR}?_total=maybe", 400, "invalid", expression="_total"),
    case(
        "history-count-not-a-number",
        "GET",
        "/fhir/Patient/{pid}/_history?_count=abc",
        400,
        "invalid",
        expression="_count",
    ),
    case(
        "history-count-superscript-digit",
        "GET",
        "/fhir/Patient/{pid}/_history?_count=\u00b2",
        400,
        "invalid",
        expression="_count",
    ),
    case(
        "history-below-superscript-digit",
        "GET",
        "/fhir/Patient/{pid}/_history?_below=\u00b2",
        400,
        "invalid",
        expression="_below",
    ),
    case(
        "history-below-beyond-any-version",
        "GET",
        "/fhir/Patient/{pid}/_history?_below=99999999999999999999",
        400,
        "invalid",
        expression="_below",
    ),
    # --- request ids ---
    case(
        "request-id-with-spaces",
        "GET",
        "/fhir/metadata",
        400,
        "invalid",
        headers={"X-Request-ID": f"{NAME} {NHS_NUMBER}"},
        expression="X-Request-ID",
    ),
    case(
        "request-id-300-chars",
        "GET",
        "/fhir/metadata",
        400,
        "invalid",
        headers={"X-Request-ID": "a" * 300},
        expression="X-Request-ID",
    ),
    case(
        "correlation-id-with-spaces-on-create",
        "POST",
        SR,
        400,
        "invalid",
        body=js(service_request()),
        headers={**FHIR_JSON, "X-Correlation-ID": f"{NAME} {NHS_NUMBER}"},
        expression="X-Correlation-ID",
    ),
    # --- URLs ---
    case("unsupported-type-in-url", "GET", "/fhir/Observation", 404, "not-found"),
    case(
        "create-unsupported-type-in-url",
        "POST",
        "/fhir/Observation",
        404,
        "not-found",
        body=js({"resourceType": "Observation", "status": "final", "code": {"text": NAME}}),
    ),
    case("read-missing-id", "GET", "/fhir/Patient/no-such-patient", 404, "not-found"),
    case("read-malformed-id", "GET", f"/fhir/Patient/{NAME}!{NHS_NUMBER}", 400, "invalid"),
    case(
        "vread-non-numeric-version",
        "GET",
        "/fhir/Patient/{pid}/_history/abc",
        404,
        "not-found",
    ),
    case(
        "vread-superscript-digit-version",
        "GET",
        "/fhir/Patient/{pid}/_history/\u00b2",
        404,
        "not-found",
    ),
    case(
        "vread-version-beyond-any-version",
        "GET",
        "/fhir/Patient/{pid}/_history/99999999999999999999",
        404,
        "not-found",
    ),
    case("vread-missing-version", "GET", "/fhir/Patient/{pid}/_history/99", 404, "not-found"),
    case("unknown-route", "GET", "/nothing", 404, "not-found"),
    case("unknown-route-under-fhir", "GET", "/fhir/Patient/x/y/z", 404, "not-found"),
]


# --- helpers -----------------------------------------------------------------------------


def row_counts(database: Database) -> dict[str, int]:
    with database.read() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (resources, resource_versions, search_index)
        }


def a_patient_id(client: TestClient) -> str:
    created = client.post("/fhir/Patient", json=patient(), headers=FHIR_JSON)
    assert created.status_code == 201, created.text[:300]
    return str(created.json()["id"])


def _chunks(body: bytes, size: int = 65_536) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def assert_no_patient_data(response_text: str, headers: Mapping[str, str]) -> None:
    everything = (response_text + "\n" + "\n".join(headers.values())).lower()
    for value in (*PATIENT_VALUES, "bogus", "2026-13-40"):
        assert value.lower() not in everything, f"the response repeats {value!r}"
    for marker in _EXCEPTION_TEXT:
        assert marker.lower() not in everything, f"the response carries exception text {marker!r}"


def assert_operation_outcome(body: Any, codes: frozenset[str], expression: str | None) -> None:
    assert isinstance(body, dict)
    assert body.get("resourceType") == "OperationOutcome"
    issues = body.get("issue")
    assert isinstance(issues, list)
    assert issues, "an OperationOutcome needs at least one issue"
    for issue in issues:
        assert issue["code"] in FHIR_ISSUE_TYPES, issue
        assert issue["severity"] in ("fatal", "error", "warning", "information"), issue
        assert isinstance(issue.get("diagnostics"), str), issue
        assert issue["diagnostics"], issue
        for where in issue.get("expression", []):
            assert _EXPRESSION.fullmatch(where), f"expression {where!r} names no element"
    errors = [issue for issue in issues if issue["severity"] in ("fatal", "error")]
    assert errors, "a refusal carries at least one error issue"
    found = {issue["code"] for issue in errors}
    assert found <= codes, f"issue codes {sorted(found)}, expected among {sorted(codes)}"
    if expression is not None:
        expressions = [where for issue in errors for where in issue.get("expression", [])]
        assert expression in expressions, f"expression {expression!r} not in {expressions}"


# --- the matrix --------------------------------------------------------------------------


@dataclass(frozen=True)
class Matrix:
    client: TestClient
    database: Database
    patient_id: str


@pytest.fixture(scope="module")
def matrix(
    database_url: str, signing_key_path: Path, audit_key_path: Path, config_dir: Path
) -> Iterator[Matrix]:
    """One started application, store and patient for the whole matrix: each case is
    refused and asserts that it changed nothing, so each finds the store as the first did
    (and refusals that left something behind would add up)."""
    settings = settings_for(database_url, signing_key_path, audit_key_path, config_dir)
    with emptied(database_url) as database, started(settings) as client:
        client.headers["Authorization"] = f"Bearer {access_token(client, PROVIDER)}"
        yield Matrix(client, database, a_patient_id(client))


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_a_clear_4xx_and_nothing_is_stored(matrix: Matrix, case: Case) -> None:
    client, database, patient_id = matrix.client, matrix.database, matrix.patient_id
    path = case.path.replace("{pid}", patient_id)
    body = case.body.replace(b"{pid}", patient_id.encode()) if case.body is not None else None
    content: bytes | Iterator[bytes] | None = body
    if case.chunked and body is not None:
        content = _chunks(body)
    before = row_counts(database)

    response = client.request(case.method, path, content=content, headers=dict(case.headers))

    if case.chunked and "Content-Length" not in case.headers:
        assert "content-length" not in response.request.headers
    assert response.status_code == case.status, response.text[:500]
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert media_type == "application/fhir+json"
    assert_operation_outcome(response.json(), case.codes, case.expression)
    assert_no_patient_data(response.text, response.headers)
    request_id = response.headers.get("X-Request-ID")
    assert request_id is not None
    assert _REQUEST_ID.fullmatch(request_id)
    assert row_counts(database) == before


# --- lenient search ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "unknown",
    [
        pytest.param("madeUpParameter", id="plain-name"),
        pytest.param(NHS_NUMBER, id="name-is-an-nhs-number"),
        pytest.param("subject:exact", id="unknown-modifier"),
    ],
)
def test_unknown_search_parameters_are_dropped_only_under_lenient_handling(
    client: TestClient, database: Database, unknown: str
) -> None:
    before = row_counts(database)
    params = [(unknown, f"Patient/{NHS_NUMBER}"), ("status", "active")]

    strict = client.get("/fhir/ServiceRequest", params=params)
    lenient = client.get("/fhir/ServiceRequest", params=params, headers=LENIENT)

    assert strict.status_code == 400
    assert strict.json()["resourceType"] == "OperationOutcome"
    assert_no_patient_data(strict.text, strict.headers)
    assert lenient.status_code == 200
    assert lenient.headers["content-type"].split(";")[0] == "application/fhir+json"
    bundle = lenient.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    self_links = [link["url"] for link in bundle["link"] if link["relation"] == "self"]
    assert len(self_links) == 1
    applied = parse_qsl(urlsplit(self_links[0]).query, keep_blank_values=True)
    assert applied == [("status", "active")]
    assert_no_patient_data(lenient.text, lenient.headers)
    assert row_counts(database) == before


# --- controls: the matrix would notice a write ------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/fhir/ServiceRequest", service_request(), id="service-request"),
        pytest.param("/fhir/Patient", patient(), id="patient"),
        pytest.param(
            "/fhir/Patient",
            json.loads(nested_extensions(30)),
            id="patient-nested-within-limit",
        ),
    ],
)
def test_the_valid_bodies_the_matrix_breaks_are_accepted_and_stored(
    client: TestClient, database: Database, path: str, body: dict[str, Any]
) -> None:
    before = row_counts(database)

    response = client.post(path, content=js(body), headers=FHIR_JSON)

    assert response.status_code == 201, response.text[:500]
    after = row_counts(database)
    assert after["resources"] == before["resources"] + 1
    assert after["resource_versions"] == before["resource_versions"] + 1
    assert after["search_index"] > before["search_index"]


def test_a_valid_update_with_a_well_formed_if_match_is_accepted(
    client: TestClient, database: Database
) -> None:
    patient_id = a_patient_id(client)
    current = client.get(f"/fhir/Patient/{patient_id}")
    assert current.status_code == 200
    before = row_counts(database)

    response = client.put(
        f"/fhir/Patient/{patient_id}",
        content=current.content,
        headers={**FHIR_JSON, "If-Match": current.headers["ETag"]},
    )

    assert response.status_code == 200, response.text[:500]
    assert row_counts(database)["resource_versions"] == before["resource_versions"] + 1
