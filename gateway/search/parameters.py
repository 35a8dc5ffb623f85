"""The search parameters the server implements, per resource type.

This table is the single source for three things that must agree: what gets indexed on
write, what a query may name, and what the CapabilityStatement advertises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

HL7_SEARCH_PARAMETER = "http://hl7.org/fhir/SearchParameter/"
# Parameters HL7 does not define for R4 are the gateway's own, under its own URL.
GATEWAY_SEARCH_PARAMETER = "https://fhir.mh-gateway.example.org/SearchParameter/"


class ParamType(StrEnum):
    TOKEN = "token"  # noqa: S105 (a FHIR search parameter type, not a secret)
    REFERENCE = "reference"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class SearchParameter:
    name: str
    type: ParamType
    # Element paths from the resource root; a path step may cross arrays.
    paths: tuple[str, ...]
    definition: str
    documentation: str
    # For references: the resource types a reference may point at (for _include and for
    # a bare id value); empty means any.
    targets: tuple[str, ...] = field(default=())


def _hl7(resource: str, code: str) -> str:
    return f"{HL7_SEARCH_PARAMETER}{resource}-{code}"


def _clinical(code: str) -> str:
    return f"{HL7_SEARCH_PARAMETER}clinical-{code}"


_ORG_OR_PERSON = ("Organization", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson")

_PATIENT = "The patient (Patient/id), or patient:identifier=system|value (NHS number)."
_SUBJECT = "The subject (Patient/id), or subject:identifier=system|value (NHS number)."

PARAMETERS: dict[str, tuple[SearchParameter, ...]] = {
    "ServiceRequest": (
        SearchParameter(
            "identifier",
            ParamType.TOKEN,
            ("identifier",),
            _clinical("identifier"),
            "Business identifier (system|value).",
        ),
        SearchParameter(
            "patient",
            ParamType.REFERENCE,
            ("subject",),
            _clinical("patient"),
            _PATIENT,
            ("Patient",),
        ),
        SearchParameter(
            "subject",
            ParamType.REFERENCE,
            ("subject",),
            _hl7("ServiceRequest", "subject"),
            _SUBJECT,
            ("Patient", "Group"),
        ),
        SearchParameter(
            "status",
            ParamType.TOKEN,
            ("status",),
            _hl7("ServiceRequest", "status"),
            "Request status.",
        ),
        SearchParameter(
            "category",
            ParamType.TOKEN,
            ("category",),
            _hl7("ServiceRequest", "category"),
            "Request category.",
        ),
        SearchParameter(
            "requester",
            ParamType.REFERENCE,
            ("requester",),
            _hl7("ServiceRequest", "requester"),
            "Who asked (reference, or requester:identifier=ODS system|code).",
            _ORG_OR_PERSON,
        ),
        SearchParameter(
            "performer",
            ParamType.REFERENCE,
            ("performer",),
            _hl7("ServiceRequest", "performer"),
            "Who is asked to act (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        SearchParameter(
            "based-on",
            ParamType.REFERENCE,
            ("basedOn",),
            _hl7("ServiceRequest", "based-on"),
            "The request this fulfils.",
            ("ServiceRequest", "CarePlan", "MedicationRequest"),
        ),
        SearchParameter(
            "authored",
            ParamType.DATE,
            ("authoredOn",),
            _hl7("ServiceRequest", "authored"),
            "When the request was made.",
        ),
        SearchParameter(
            "supporting-info",
            ParamType.REFERENCE,
            ("supportingInfo",),
            f"{GATEWAY_SEARCH_PARAMETER}ServiceRequest-supporting-info",
            "Supporting information (the risk Flags and the Communication).",
            ("Flag", "Communication"),
        ),
    ),
    "Communication": (
        SearchParameter(
            "identifier",
            ParamType.TOKEN,
            ("identifier",),
            _hl7("Communication", "identifier"),
            "Business identifier.",
        ),
        SearchParameter(
            "patient",
            ParamType.REFERENCE,
            ("subject",),
            _hl7("Communication", "patient"),
            _PATIENT,
            ("Patient",),
        ),
        SearchParameter(
            "subject",
            ParamType.REFERENCE,
            ("subject",),
            _hl7("Communication", "subject"),
            _SUBJECT,
            ("Patient", "Group"),
        ),
        SearchParameter(
            "status",
            ParamType.TOKEN,
            ("status",),
            _hl7("Communication", "status"),
            "Communication status.",
        ),
        SearchParameter(
            "category",
            ParamType.TOKEN,
            ("category",),
            _hl7("Communication", "category"),
            "handover or escalation.",
        ),
        SearchParameter(
            "sender",
            ParamType.REFERENCE,
            ("sender",),
            _hl7("Communication", "sender"),
            "Who sent it (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        SearchParameter(
            "recipient",
            ParamType.REFERENCE,
            ("recipient",),
            _hl7("Communication", "recipient"),
            "Who receives it (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        SearchParameter(
            "based-on",
            ParamType.REFERENCE,
            ("basedOn",),
            _hl7("Communication", "based-on"),
            "The ServiceRequest it belongs to.",
            ("ServiceRequest",),
        ),
        SearchParameter(
            "date",
            ParamType.DATE,
            ("sent",),
            f"{GATEWAY_SEARCH_PARAMETER}Communication-date",
            "When it was sent (Communication.sent).",
        ),
    ),
    "Flag": (
        SearchParameter(
            "identifier",
            ParamType.TOKEN,
            ("identifier",),
            _hl7("Flag", "identifier"),
            "Business identifier.",
        ),
        SearchParameter(
            "patient",
            ParamType.REFERENCE,
            ("subject",),
            _clinical("patient"),
            _PATIENT,
            ("Patient",),
        ),
        SearchParameter(
            "subject",
            ParamType.REFERENCE,
            ("subject",),
            _hl7("Flag", "subject"),
            _SUBJECT,
            ("Patient", "Group", "Organization"),
        ),
        SearchParameter(
            "status",
            ParamType.TOKEN,
            ("status",),
            f"{GATEWAY_SEARCH_PARAMETER}Flag-status",
            "Flag status.",
        ),
        SearchParameter(
            "category",
            ParamType.TOKEN,
            ("category",),
            f"{GATEWAY_SEARCH_PARAMETER}Flag-category",
            "Flag category.",
        ),
        SearchParameter(
            "date",
            ParamType.DATE,
            ("period",),
            _clinical("date"),
            "The period the flag applies to.",
        ),
    ),
    "Task": (
        SearchParameter(
            "identifier",
            ParamType.TOKEN,
            ("identifier",),
            _hl7("Task", "identifier"),
            "Business identifier.",
        ),
        SearchParameter(
            "patient",
            ParamType.REFERENCE,
            ("for",),
            _hl7("Task", "patient"),
            _PATIENT,
            ("Patient",),
        ),
        SearchParameter(
            "subject",
            ParamType.REFERENCE,
            ("for",),
            _hl7("Task", "subject"),
            "Who the task is for (reference or :identifier).",
            (),
        ),
        SearchParameter(
            "status", ParamType.TOKEN, ("status",), _hl7("Task", "status"), "Task status."
        ),
        SearchParameter(
            "requester",
            ParamType.REFERENCE,
            ("requester",),
            _hl7("Task", "requester"),
            "Who asked (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        SearchParameter(
            "owner",
            ParamType.REFERENCE,
            ("owner",),
            _hl7("Task", "owner"),
            "Who owns the task (Task.owner; reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        SearchParameter(
            "based-on",
            ParamType.REFERENCE,
            ("basedOn",),
            _hl7("Task", "based-on"),
            "The request the task acts on.",
            (),
        ),
        SearchParameter(
            "authored-on",
            ParamType.DATE,
            ("authoredOn",),
            _hl7("Task", "authored-on"),
            "When the task was created.",
        ),
    ),
    "Consent": (
        SearchParameter(
            "identifier",
            ParamType.TOKEN,
            ("identifier",),
            _clinical("identifier"),
            "Business identifier.",
        ),
        SearchParameter(
            "patient",
            ParamType.REFERENCE,
            ("patient",),
            _clinical("patient"),
            _PATIENT,
            ("Patient",),
        ),
        SearchParameter(
            "status", ParamType.TOKEN, ("status",), _hl7("Consent", "status"), "Consent status."
        ),
        SearchParameter(
            "category",
            ParamType.TOKEN,
            ("category",),
            _hl7("Consent", "category"),
            "Consent category.",
        ),
        SearchParameter(
            "date",
            ParamType.DATE,
            ("dateTime",),
            _clinical("date"),
            "When the consent was recorded.",
        ),
    ),
    "Provenance": (
        SearchParameter(
            "target",
            ParamType.REFERENCE,
            ("target",),
            _hl7("Provenance", "target"),
            "The resources it describes.",
            (),
        ),
        SearchParameter(
            "patient",
            ParamType.REFERENCE,
            ("target",),
            _hl7("Provenance", "patient"),
            "Target patient.",
            ("Patient",),
        ),
        SearchParameter(
            "date",
            ParamType.DATE,
            ("recorded",),
            f"{GATEWAY_SEARCH_PARAMETER}Provenance-date",
            "When it was recorded.",
        ),
    ),
    "Patient": (
        SearchParameter(
            "identifier",
            ParamType.TOKEN,
            ("identifier",),
            _hl7("Patient", "identifier"),
            "NHS number (system|value).",
        ),
    ),
    "Organization": (
        SearchParameter(
            "identifier",
            ParamType.TOKEN,
            ("identifier",),
            _hl7("Organization", "identifier"),
            "ODS code (system|value).",
        ),
    ),
}

# Parameters every resource type has, answered from the resources table itself.
ID_PARAMETER = "_id"
LAST_UPDATED_PARAMETER = "_lastUpdated"
COMMON_DEFINITIONS = {
    ID_PARAMETER: f"{HL7_SEARCH_PARAMETER}Resource-id",
    LAST_UPDATED_PARAMETER: f"{HL7_SEARCH_PARAMETER}Resource-lastUpdated",
}


def parameters_for(resource_type: str) -> dict[str, SearchParameter]:
    return {parameter.name: parameter for parameter in PARAMETERS.get(resource_type, ())}
