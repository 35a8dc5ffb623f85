"""Validation of an incoming FHIR resource: structure, the R4 models, and UK Core rules.

Messages are written from the error's kind and location only, never from the value, so
an OperationOutcome can be returned (and logged) without repeating patient data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from core.fhir.identifiers import (
    NHS_NUMBER_SYSTEM,
    ODS_ORGANISATION_SYSTEM,
    ODS_SYSTEM_NEAR_MISSES,
    is_valid_nhs_number,
    is_valid_ods_code,
)
from core.fhir.invisible_characters import fhir_identifier_issues
from core.fhir.issues import ContentError, Issue, IssueCode, element_path
from core.fhir.models import SUPPORTED_RESOURCE_TYPES, model_class
from core.fhir.modifier_extensions import modifier_extension_issues
from core.fhir.narrative import narrative_issues
from core.fhir.required_bindings import binding_issues

# What the server owns: whatever a client sends there is replaced, so it is not validated.
SERVER_OWNED_META = ("versionId", "lastUpdated")

_PYDANTIC_MESSAGES: Mapping[str, tuple[IssueCode, str]] = {
    "extra_forbidden": (IssueCode.STRUCTURE, "Unknown element."),
    "missing": (IssueCode.REQUIRED, "A required element is missing."),
    "model_field_validation.missing": (IssueCode.REQUIRED, "A required element is missing."),
    "string_pattern_mismatch": (IssueCode.VALUE, "The value is empty or malformed."),
    "value_error": (IssueCode.VALUE, "The value is not valid for this element's type."),
}


def validate_structure(
    data: dict[str, Any], expected_type: str, *, served: Sequence[str] = SUPPORTED_RESOURCE_TYPES
) -> dict[str, Any]:
    """Check a parsed resource against the R4 models and required code bindings.

    Returns the resource without what the server owns (id, meta.versionId,
    meta.lastUpdated); everything else is kept as the client sent it. Raises ContentError
    listing the issues found (the models report some only once others are fixed).
    Structural problems come first: if the resource type is
    wrong there is no point in reporting its elements.
    """
    _check_resource_type(data, expected_type, served)
    candidate = without_server_owned(data)
    try:
        model_class(expected_type).model_validate(candidate)
    except ValidationError as error:
        raise ContentError(_issues_from_pydantic(expected_type, error)) from None
    unbound = binding_issues(candidate, expected_type)
    if unbound:
        raise ContentError(unbound)
    return candidate


def check_uk_core(resource: Mapping[str, Any], resource_type: str) -> None:
    """Raise ContentError (a business-rule failure) if any UK Core identifier rule fails."""
    issues = list(uk_core_issues(resource, resource_type))
    if issues:
        raise ContentError(issues, business_rule=True)


def check_safe_content(resource: Mapping[str, Any], resource_type: str) -> None:
    """Raise ContentError (a business-rule failure) for content a receiver could be misled
    or attacked by: a modifierExtension the gateway does not understand, an identifier
    holding an invisible character, narrative XHTML outside R4's rules. Checked at any
    depth, so a message Bundle is checked with its entries."""
    issues = (
        modifier_extension_issues(resource, resource_type)
        + fhir_identifier_issues(resource, resource_type)
        + narrative_issues(resource, resource_type)
    )
    if issues:
        raise ContentError(issues, business_rule=True)


def without_server_owned(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without id and the server-owned parts of meta (client tags are kept)."""
    result = {key: value for key, value in data.items() if key != "id"}
    meta = result.get("meta")
    if isinstance(meta, dict):
        kept = {key: value for key, value in meta.items() if key not in SERVER_OWNED_META}
        if kept:
            result["meta"] = kept
        else:
            del result["meta"]
    return result


def _check_resource_type(
    data: Mapping[str, Any], expected_type: str, served: Sequence[str]
) -> None:
    resource_type = data.get("resourceType")
    if resource_type is None:
        raise ContentError([Issue(IssueCode.REQUIRED, "resourceType is missing.", "resourceType")])
    if not isinstance(resource_type, str) or resource_type not in served:
        raise ContentError(
            [
                Issue(
                    IssueCode.NOT_SUPPORTED,
                    "resourceType is not one this server accepts: " + ", ".join(served) + ".",
                    "resourceType",
                )
            ]
        )
    if resource_type != expected_type:
        raise ContentError(
            [
                Issue(
                    IssueCode.INVALID,
                    f"resourceType {resource_type} does not match the URL ({expected_type}).",
                    "resourceType",
                )
            ]
        )


def _issues_from_pydantic(resource_type: str, error: ValidationError) -> list[Issue]:
    issues = []
    for detail in error.errors(include_input=False, include_url=False, include_context=False):
        code, message = _PYDANTIC_MESSAGES.get(
            detail["type"], (IssueCode.VALUE, "The value is not valid for this element.")
        )
        issues.append(Issue(code, message, fhir_path(resource_type, detail["loc"])))
    return issues


def fhir_path(root: str, location: Sequence[int | str]) -> str:
    """The FHIRPath-style expression for a location; see core.fhir.issues.element_path."""
    return element_path(root, location)


def uk_core_issues(resource: Mapping[str, Any], resource_type: str) -> Iterator[Issue]:
    """The UK Core identifier rules that matter for handovers, wherever identifiers occur."""
    for path, element in _walk_objects(resource, resource_type):
        system = element.get("system")
        value = element.get("value")
        if system == NHS_NUMBER_SYSTEM and isinstance(value, str):
            if not is_valid_nhs_number(value):
                yield Issue(
                    IssueCode.VALUE,
                    "The NHS number is not valid: it must be 10 digits that pass the "
                    "Modulus 11 check.",
                    f"{path}.value",
                )
        elif system == ODS_ORGANISATION_SYSTEM and isinstance(value, str):
            if not is_valid_ods_code(value):
                yield Issue(
                    IssueCode.VALUE,
                    "The ODS code is not valid: 3 to 10 upper-case letters and digits.",
                    f"{path}.value",
                )
        elif system in ODS_SYSTEM_NEAR_MISSES:
            yield Issue(
                IssueCode.VALUE,
                f"ODS organisation codes use the system {ODS_ORGANISATION_SYSTEM}.",
                f"{path}.system",
            )


def _walk_objects(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        here, node = stack.pop()
        if isinstance(node, dict):
            yield here, node
            stack.extend((f"{here}.{key}", child) for key, child in node.items())
        elif isinstance(node, list):
            stack.extend((f"{here}[{index}]", child) for index, child in enumerate(node))
