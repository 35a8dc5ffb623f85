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


def _own(code: str) -> str:
    return f"{GATEWAY_SEARCH_PARAMETER}{code}"


def _token(name: str, path: str, definition: str, documentation: str) -> SearchParameter:
    return SearchParameter(name, ParamType.TOKEN, (path,), definition, documentation)


def _date(name: str, path: str, definition: str, documentation: str) -> SearchParameter:
    return SearchParameter(name, ParamType.DATE, (path,), definition, documentation)


def _reference(
    name: str, path: str, definition: str, documentation: str, targets: tuple[str, ...]
) -> SearchParameter:
    return SearchParameter(name, ParamType.REFERENCE, (path,), definition, documentation, targets)


_ORG_OR_PERSON = ("Organization", "Practitioner", "PractitionerRole", "Patient", "RelatedPerson")

_PATIENT = "The patient (Patient/id), or patient:identifier=system|value (NHS number)."
_SUBJECT = "The subject (Patient/id), or subject:identifier=system|value (NHS number)."

PARAMETERS: dict[str, tuple[SearchParameter, ...]] = {
    "ServiceRequest": (
        _token(
            "identifier",
            "identifier",
            _clinical("identifier"),
            "Business identifier (system|value).",
        ),
        _reference("patient", "subject", _clinical("patient"), _PATIENT, ("Patient",)),
        _reference(
            "subject", "subject", _hl7("ServiceRequest", "subject"), _SUBJECT, ("Patient", "Group")
        ),
        _token("status", "status", _hl7("ServiceRequest", "status"), "Request status."),
        _token("category", "category", _hl7("ServiceRequest", "category"), "Request category."),
        _reference(
            "requester",
            "requester",
            _hl7("ServiceRequest", "requester"),
            "Who asked (reference, or requester:identifier=ODS system|code).",
            _ORG_OR_PERSON,
        ),
        _reference(
            "performer",
            "performer",
            _hl7("ServiceRequest", "performer"),
            "Who is asked to act (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        _reference(
            "based-on",
            "basedOn",
            _hl7("ServiceRequest", "based-on"),
            "The request this fulfils.",
            ("ServiceRequest", "CarePlan", "MedicationRequest"),
        ),
        _date(
            "authored",
            "authoredOn",
            _hl7("ServiceRequest", "authored"),
            "When the request was made.",
        ),
        _reference(
            "supporting-info",
            "supportingInfo",
            _own("ServiceRequest-supporting-info"),
            "Supporting information (the risk Flags and the Communication).",
            ("Flag", "Communication"),
        ),
    ),
    "Communication": (
        _token(
            "identifier", "identifier", _hl7("Communication", "identifier"), "Business identifier."
        ),
        _reference("patient", "subject", _hl7("Communication", "patient"), _PATIENT, ("Patient",)),
        _reference(
            "subject", "subject", _hl7("Communication", "subject"), _SUBJECT, ("Patient", "Group")
        ),
        _token("status", "status", _hl7("Communication", "status"), "Communication status."),
        _token(
            "category", "category", _hl7("Communication", "category"), "handover or escalation."
        ),
        _reference(
            "sender",
            "sender",
            _hl7("Communication", "sender"),
            "Who sent it (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        _reference(
            "recipient",
            "recipient",
            _hl7("Communication", "recipient"),
            "Who receives it (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        _reference(
            "based-on",
            "basedOn",
            _hl7("Communication", "based-on"),
            "The ServiceRequest it belongs to.",
            ("ServiceRequest",),
        ),
        _date("date", "sent", _own("Communication-date"), "When it was sent (Communication.sent)."),
        _reference(
            "in-response-to",
            "inResponseTo",
            _own("Communication-in-response-to"),
            "The Communication it answers (a Trust's response to a handover or escalation).",
            ("Communication",),
        ),
    ),
    "Flag": (
        _token("identifier", "identifier", _hl7("Flag", "identifier"), "Business identifier."),
        _reference("patient", "subject", _clinical("patient"), _PATIENT, ("Patient",)),
        _reference(
            "subject",
            "subject",
            _hl7("Flag", "subject"),
            _SUBJECT,
            ("Patient", "Group", "Organization"),
        ),
        _token("status", "status", _own("Flag-status"), "Flag status."),
        _token("category", "category", _own("Flag-category"), "Flag category."),
        _date("date", "period", _clinical("date"), "The period the flag applies to."),
    ),
    "Task": (
        _token("identifier", "identifier", _hl7("Task", "identifier"), "Business identifier."),
        _reference("patient", "for", _hl7("Task", "patient"), _PATIENT, ("Patient",)),
        _reference(
            "subject",
            "for",
            _hl7("Task", "subject"),
            "Who the task is for (reference or :identifier).",
            (),
        ),
        _token("status", "status", _hl7("Task", "status"), "Task status."),
        _reference(
            "requester",
            "requester",
            _hl7("Task", "requester"),
            "Who asked (reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        _reference(
            "owner",
            "owner",
            _hl7("Task", "owner"),
            "Who owns the task (Task.owner; reference or :identifier).",
            _ORG_OR_PERSON,
        ),
        _reference(
            "based-on", "basedOn", _hl7("Task", "based-on"), "The request the task acts on.", ()
        ),
        _reference(
            "focus",
            "focus",
            _hl7("Task", "focus"),
            "What the task acts on: the ServiceRequest a receiver accepts or declines.",
            (),
        ),
        _date(
            "authored-on", "authoredOn", _hl7("Task", "authored-on"), "When the task was created."
        ),
    ),
    "Consent": (
        _token("identifier", "identifier", _clinical("identifier"), "Business identifier."),
        _reference("patient", "patient", _clinical("patient"), _PATIENT, ("Patient",)),
        _token("status", "status", _hl7("Consent", "status"), "Consent status."),
        _token("category", "category", _hl7("Consent", "category"), "Consent category."),
        _date("date", "dateTime", _clinical("date"), "When the consent was recorded."),
    ),
    "Provenance": (
        _reference(
            "target", "target", _hl7("Provenance", "target"), "The resources it describes.", ()
        ),
        _reference(
            "patient", "target", _hl7("Provenance", "patient"), "Target patient.", ("Patient",)
        ),
        _date("date", "recorded", _own("Provenance-date"), "When it was recorded."),
    ),
    "Patient": (
        _token(
            "identifier", "identifier", _hl7("Patient", "identifier"), "NHS number (system|value)."
        ),
    ),
    "Organization": (
        _token(
            "identifier",
            "identifier",
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
