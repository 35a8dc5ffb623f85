"""HL7's FHIR R4 JSON schema as a second, independent check of incoming resources.

fhir.resources (R4B models) checks structure and datatypes but not required code
bindings (a ServiceRequest.status of "bogus" passes it); the R4 schema checks those and
the 4.0.1 wire format itself. Messages name the element and, for codes, the allowed
values (which come from the schema), never the value received.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources as package_resources
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from core.fhir.issues import Issue, IssueCode
from core.fhir.validation import fhir_path


@cache
def _definitions() -> Mapping[str, Any]:
    text = package_resources.files("gateway.fhir.data").joinpath("fhir-r4.schema.json").read_text()
    definitions: Mapping[str, Any] = json.loads(text)["definitions"]
    return definitions


@cache
def _validator(resource_type: str) -> jsonschema.Draft6Validator:
    schema = {"$ref": f"#/definitions/{resource_type}", "definitions": _definitions()}
    return jsonschema.Draft6Validator(schema)


def load() -> None:
    """Read the schema now (at start-up) rather than on the first request."""
    _definitions()


def schema_issues(resource: Mapping[str, Any], resource_type: str) -> list[Issue]:
    errors: Iterable[ValidationError] = _validator(resource_type).iter_errors(resource)
    issues = {_issue(resource_type, error) for error in errors}
    return sorted(issues, key=lambda issue: (issue.expression or "", issue.diagnostics))


def _issue(resource_type: str, error: ValidationError) -> Issue:
    path = fhir_path(resource_type, list(error.absolute_path))
    kind = error.validator
    if kind == "enum":
        codes: list[Any] = error.validator_value if isinstance(error.validator_value, list) else []
        allowed = ", ".join(str(code) for code in codes)
        return Issue(IssueCode.VALUE, f"The code is not one of the allowed codes: {allowed}.", path)
    if kind == "additionalProperties":
        return Issue(IssueCode.STRUCTURE, "Unknown element.", path)
    if kind == "required":
        return Issue(IssueCode.REQUIRED, "A required element is missing.", path)
    if kind == "type":
        return Issue(
            IssueCode.STRUCTURE, f"The value must be a JSON {error.validator_value}.", path
        )
    if kind == "pattern":
        return Issue(IssueCode.VALUE, "The value is malformed for this element's type.", path)
    return Issue(IssueCode.VALUE, "The value is not valid for this element.", path)
