"""Organisations from the deployment's directory, as FHIR Organization resources."""

from __future__ import annotations

from typing import Any

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM


def organization_resource(ods_code: str, name: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "identifier": [{"system": ODS_ORGANISATION_SYSTEM, "value": ods_code}],
        "active": True,
        "name": name,
    }
