from __future__ import annotations

import re
from typing import Any

import pytest

from core.fhir.models import SUPPORTED_RESOURCE_TYPES, model_class
from core.search.parameters import (
    COMMON_DEFINITIONS,
    GATEWAY_SEARCH_PARAMETER,
    HL7_SEARCH_PARAMETER,
    ID_PARAMETER,
    LAST_UPDATED_PARAMETER,
    PARAMETERS,
    ParamType,
    SearchParameter,
    parameters_for,
)

# HL7's FHIR R4 (4.0.1) search parameters for the supported types, by SearchParameter id:
# (code, type, the supported types among its bases). Checked against the R4 search pages.
R4_SEARCH_PARAMETERS: dict[str, tuple[str, str, frozenset[str]]] = {
    "Resource-id": ("_id", "token", frozenset(SUPPORTED_RESOURCE_TYPES)),
    "Resource-lastUpdated": ("_lastUpdated", "date", frozenset(SUPPORTED_RESOURCE_TYPES)),
    "clinical-identifier": ("identifier", "token", frozenset({"ServiceRequest", "Consent"})),
    "clinical-patient": ("patient", "reference", frozenset({"ServiceRequest", "Flag", "Consent"})),
    "clinical-date": ("date", "date", frozenset({"Flag", "Consent"})),
    "clinical-code": ("code", "token", frozenset({"ServiceRequest"})),
    "clinical-encounter": ("encounter", "reference", frozenset({"ServiceRequest", "Flag"})),
    "ServiceRequest-authored": ("authored", "date", frozenset({"ServiceRequest"})),
    "ServiceRequest-based-on": ("based-on", "reference", frozenset({"ServiceRequest"})),
    "ServiceRequest-body-site": ("body-site", "token", frozenset({"ServiceRequest"})),
    "ServiceRequest-category": ("category", "token", frozenset({"ServiceRequest"})),
    "ServiceRequest-intent": ("intent", "token", frozenset({"ServiceRequest"})),
    "ServiceRequest-occurrence": ("occurrence", "date", frozenset({"ServiceRequest"})),
    "ServiceRequest-performer": ("performer", "reference", frozenset({"ServiceRequest"})),
    "ServiceRequest-performer-type": ("performer-type", "token", frozenset({"ServiceRequest"})),
    "ServiceRequest-priority": ("priority", "token", frozenset({"ServiceRequest"})),
    "ServiceRequest-replaces": ("replaces", "reference", frozenset({"ServiceRequest"})),
    "ServiceRequest-requester": ("requester", "reference", frozenset({"ServiceRequest"})),
    "ServiceRequest-requisition": ("requisition", "token", frozenset({"ServiceRequest"})),
    "ServiceRequest-specimen": ("specimen", "reference", frozenset({"ServiceRequest"})),
    "ServiceRequest-status": ("status", "token", frozenset({"ServiceRequest"})),
    "ServiceRequest-subject": ("subject", "reference", frozenset({"ServiceRequest"})),
    "Communication-based-on": ("based-on", "reference", frozenset({"Communication"})),
    "Communication-category": ("category", "token", frozenset({"Communication"})),
    "Communication-encounter": ("encounter", "reference", frozenset({"Communication"})),
    "Communication-identifier": ("identifier", "token", frozenset({"Communication"})),
    "Communication-medium": ("medium", "token", frozenset({"Communication"})),
    "Communication-part-of": ("part-of", "reference", frozenset({"Communication"})),
    "Communication-patient": ("patient", "reference", frozenset({"Communication"})),
    "Communication-received": ("received", "date", frozenset({"Communication"})),
    "Communication-recipient": ("recipient", "reference", frozenset({"Communication"})),
    "Communication-sender": ("sender", "reference", frozenset({"Communication"})),
    "Communication-sent": ("sent", "date", frozenset({"Communication"})),
    "Communication-status": ("status", "token", frozenset({"Communication"})),
    "Communication-subject": ("subject", "reference", frozenset({"Communication"})),
    "Flag-author": ("author", "reference", frozenset({"Flag"})),
    "Flag-identifier": ("identifier", "token", frozenset({"Flag"})),
    "Flag-subject": ("subject", "reference", frozenset({"Flag"})),
    "Task-authored-on": ("authored-on", "date", frozenset({"Task"})),
    "Task-based-on": ("based-on", "reference", frozenset({"Task"})),
    "Task-business-status": ("business-status", "token", frozenset({"Task"})),
    "Task-code": ("code", "token", frozenset({"Task"})),
    "Task-encounter": ("encounter", "reference", frozenset({"Task"})),
    "Task-focus": ("focus", "reference", frozenset({"Task"})),
    "Task-group-identifier": ("group-identifier", "token", frozenset({"Task"})),
    "Task-identifier": ("identifier", "token", frozenset({"Task"})),
    "Task-intent": ("intent", "token", frozenset({"Task"})),
    "Task-modified": ("modified", "date", frozenset({"Task"})),
    "Task-owner": ("owner", "reference", frozenset({"Task"})),
    "Task-part-of": ("part-of", "reference", frozenset({"Task"})),
    "Task-patient": ("patient", "reference", frozenset({"Task"})),
    "Task-performer": ("performer", "token", frozenset({"Task"})),  # Task.performerType
    "Task-period": ("period", "date", frozenset({"Task"})),
    "Task-priority": ("priority", "token", frozenset({"Task"})),
    "Task-requester": ("requester", "reference", frozenset({"Task"})),
    "Task-status": ("status", "token", frozenset({"Task"})),
    "Task-subject": ("subject", "reference", frozenset({"Task"})),
    "Consent-action": ("action", "token", frozenset({"Consent"})),
    "Consent-actor": ("actor", "reference", frozenset({"Consent"})),
    "Consent-category": ("category", "token", frozenset({"Consent"})),
    "Consent-consentor": ("consentor", "reference", frozenset({"Consent"})),
    "Consent-data": ("data", "reference", frozenset({"Consent"})),
    "Consent-organization": ("organization", "reference", frozenset({"Consent"})),
    "Consent-period": ("period", "date", frozenset({"Consent"})),
    "Consent-purpose": ("purpose", "token", frozenset({"Consent"})),
    "Consent-scope": ("scope", "token", frozenset({"Consent"})),
    "Consent-security-label": ("security-label", "token", frozenset({"Consent"})),
    "Consent-source-reference": ("source-reference", "reference", frozenset({"Consent"})),
    "Consent-status": ("status", "token", frozenset({"Consent"})),
    "Provenance-agent": ("agent", "reference", frozenset({"Provenance"})),
    "Provenance-agent-role": ("agent-role", "token", frozenset({"Provenance"})),
    "Provenance-agent-type": ("agent-type", "token", frozenset({"Provenance"})),
    "Provenance-entity": ("entity", "reference", frozenset({"Provenance"})),
    "Provenance-location": ("location", "reference", frozenset({"Provenance"})),
    "Provenance-patient": ("patient", "reference", frozenset({"Provenance"})),
    "Provenance-recorded": ("recorded", "date", frozenset({"Provenance"})),
    "Provenance-signature-type": ("signature-type", "token", frozenset({"Provenance"})),
    "Provenance-target": ("target", "reference", frozenset({"Provenance"})),
    "Provenance-when": ("when", "date", frozenset({"Provenance"})),
    "Patient-active": ("active", "token", frozenset({"Patient"})),
    "Patient-general-practitioner": ("general-practitioner", "reference", frozenset({"Patient"})),
    "Patient-identifier": ("identifier", "token", frozenset({"Patient"})),
    "Patient-link": ("link", "reference", frozenset({"Patient"})),
    "Patient-name": ("name", "string", frozenset({"Patient"})),
    "Patient-organization": ("organization", "reference", frozenset({"Patient"})),
    "individual-birthdate": ("birthdate", "date", frozenset({"Patient"})),
    "individual-gender": ("gender", "token", frozenset({"Patient"})),
    "Organization-active": ("active", "token", frozenset({"Organization"})),
    "Organization-endpoint": ("endpoint", "reference", frozenset({"Organization"})),
    "Organization-identifier": ("identifier", "token", frozenset({"Organization"})),
    "Organization-name": ("name", "string", frozenset({"Organization"})),
    "Organization-partof": ("partof", "reference", frozenset({"Organization"})),
    "Organization-type": ("type", "token", frozenset({"Organization"})),
}

# Where the gateway's parameter name is not HL7's code for the definition it cites:
# none. Kept so that any divergence fails this suite.
NAMED_DIFFERENTLY: dict[tuple[str, str], str] = {}

# What an element's type must be for each kind of parameter (fhir.resources annotations).
ELEMENT_TYPES = {
    ParamType.TOKEN: ("Code()", "IdentifierType", "CodeableConceptType", "CodingType", "bool"),
    ParamType.REFERENCE: ("ReferenceType",),
    ParamType.DATE: ("DateTime()", "Instant()", "Date()", "PeriodType"),
}

ALL_PARAMETERS = [
    pytest.param(resource_type, parameter, id=f"{resource_type}.{parameter.name}")
    for resource_type, parameters in PARAMETERS.items()
    for parameter in parameters
]


def element(resource_type: str, path: str) -> Any:
    """The pydantic field for a dotted FHIR element path (FHIR names, e.g. "for")."""
    model: Any = model_class(resource_type)
    steps = path.split(".")
    for index, step in enumerate(steps):
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        assert step in fields, f"{model.__name__} has no element {step}"
        if index == len(steps) - 1:
            return fields[step]
        element_type = re.search(r"abc\.(\w+)Type\b", str(fields[step].annotation))
        assert element_type is not None
        model = model_class(element_type.group(1))
    raise AssertionError("empty path")


def test_the_element_lookup_uses_fhir_names() -> None:
    assert element("Task", "for").alias == "for"
    assert element("Consent", "provision.provision.type")
    with pytest.raises(AssertionError):
        element("Task", "for_fhir")
    with pytest.raises(AssertionError):
        element("Task", "forr")


def test_every_supported_type_has_parameters_and_no_other_type_does() -> None:
    assert set(PARAMETERS) == set(SUPPORTED_RESOURCE_TYPES)
    for resource_type in SUPPORTED_RESOURCE_TYPES:
        assert parameters_for(resource_type)


def test_an_unknown_type_has_no_parameters() -> None:
    assert parameters_for("Observation") == {}


@pytest.mark.parametrize("resource_type", SUPPORTED_RESOURCE_TYPES)
def test_parameter_names_are_unique_per_type(resource_type: str) -> None:
    names = [parameter.name for parameter in PARAMETERS[resource_type]]

    assert len(names) == len(set(names))
    assert list(parameters_for(resource_type)) == names


@pytest.mark.parametrize("resource_type", SUPPORTED_RESOURCE_TYPES)
def test_no_parameter_shadows_a_common_one_or_uses_a_modifier_character(
    resource_type: str,
) -> None:
    for parameter in PARAMETERS[resource_type]:
        assert re.fullmatch(r"[a-z][a-z-]*", parameter.name)
        assert parameter.name not in COMMON_DEFINITIONS


@pytest.mark.parametrize(("resource_type", "parameter"), ALL_PARAMETERS)
def test_every_path_is_an_element_of_the_model(
    resource_type: str, parameter: SearchParameter
) -> None:
    assert parameter.paths
    for path in parameter.paths:
        element(resource_type, path)


@pytest.mark.parametrize(("resource_type", "parameter"), ALL_PARAMETERS)
def test_every_path_has_a_type_the_parameter_can_index(
    resource_type: str, parameter: SearchParameter
) -> None:
    for path in parameter.paths:
        annotation = str(element(resource_type, path).annotation)
        assert any(kind in annotation for kind in ELEMENT_TYPES[parameter.type]), annotation


@pytest.mark.parametrize(("resource_type", "parameter"), ALL_PARAMETERS)
def test_reference_targets_are_types_the_element_may_point_at(
    resource_type: str, parameter: SearchParameter
) -> None:
    if parameter.type is not ParamType.REFERENCE:
        assert parameter.targets == ()
        return
    for path in parameter.paths:
        extra = element(resource_type, path).json_schema_extra or {}
        allowed = set(extra["enum_reference_types"])
        if "Resource" not in allowed:
            assert set(parameter.targets) <= allowed


@pytest.mark.parametrize(("resource_type", "parameter"), ALL_PARAMETERS)
def test_every_definition_is_hl7s_or_the_gateways(
    resource_type: str, parameter: SearchParameter
) -> None:
    definition = parameter.definition
    if definition.startswith(GATEWAY_SEARCH_PARAMETER):
        assert definition == f"{GATEWAY_SEARCH_PARAMETER}{resource_type}-{parameter.name}"
    else:
        assert definition.startswith(HL7_SEARCH_PARAMETER)
        assert re.fullmatch(
            r"(clinical|individual|Resource|[A-Z][A-Za-z]+)-[a-z][A-Za-z-]*",
            definition.removeprefix(HL7_SEARCH_PARAMETER),
        )


@pytest.mark.parametrize(("resource_type", "parameter"), ALL_PARAMETERS)
def test_every_hl7_definition_exists_in_r4_for_this_type_and_kind(
    resource_type: str, parameter: SearchParameter
) -> None:
    if not parameter.definition.startswith(HL7_SEARCH_PARAMETER):
        return
    definition_id = parameter.definition.removeprefix(HL7_SEARCH_PARAMETER)

    assert definition_id in R4_SEARCH_PARAMETERS
    code, kind, bases = R4_SEARCH_PARAMETERS[definition_id]
    assert resource_type in bases
    assert kind == parameter.type.value
    assert code == NAMED_DIFFERENTLY.get((resource_type, parameter.name), parameter.name)


@pytest.mark.parametrize(("resource_type", "parameter"), ALL_PARAMETERS)
def test_gateway_definitions_are_only_for_what_hl7_does_not_define(
    resource_type: str, parameter: SearchParameter
) -> None:
    if not parameter.definition.startswith(GATEWAY_SEARCH_PARAMETER):
        return
    same_code = [
        definition_id
        for definition_id, (code, _, bases) in R4_SEARCH_PARAMETERS.items()
        if code == parameter.name and resource_type in bases
    ]
    # Communication.date and Provenance.date are the gateway's names for HL7's sent and
    # recorded; Flag status/category have no HL7 R4 definition.
    assert same_code == []


def test_the_common_parameters_cite_hl7s_resource_definitions() -> None:
    assert set(COMMON_DEFINITIONS) == {ID_PARAMETER, LAST_UPDATED_PARAMETER}
    assert COMMON_DEFINITIONS[ID_PARAMETER] == f"{HL7_SEARCH_PARAMETER}Resource-id"
    assert (
        COMMON_DEFINITIONS[LAST_UPDATED_PARAMETER] == f"{HL7_SEARCH_PARAMETER}Resource-lastUpdated"
    )
    for definition in COMMON_DEFINITIONS.values():
        assert definition.removeprefix(HL7_SEARCH_PARAMETER) in R4_SEARCH_PARAMETERS


def test_the_definition_bases_are_http_urls_ending_in_a_slash() -> None:
    assert HL7_SEARCH_PARAMETER == "http://hl7.org/fhir/SearchParameter/"
    assert re.fullmatch(r"https://[a-z0-9.-]+/SearchParameter/", GATEWAY_SEARCH_PARAMETER)


@pytest.mark.parametrize(("resource_type", "parameter"), ALL_PARAMETERS)
def test_every_parameter_is_documented(resource_type: str, parameter: SearchParameter) -> None:
    assert parameter.documentation.strip()
