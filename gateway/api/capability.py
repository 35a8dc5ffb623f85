"""The CapabilityStatement, generated from the same tables the server runs on, so it can
only ever list what is implemented."""

from __future__ import annotations

from typing import Any

from gateway.search.parameters import (
    COMMON_DEFINITIONS,
    ID_PARAMETER,
    LAST_UPDATED_PARAMETER,
    PARAMETERS,
    ParamType,
)
from mappings import codes
from mappings.fhir_models import FHIR_VERSION, SUPPORTED_RESOURCE_TYPES

# The interactions each resource type supports, as routed in gateway.api.fhir_rest.
INTERACTIONS = ("create", "read", "vread", "update", "history-instance", "search-type")
SOFTWARE_NAME = "Mental-health interface gateway"
SOFTWARE_VERSION = "0.1.0"


def capability_statement(base_url: str, published: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": published,
        "publisher": "Mental-health interface gateway",
        "kind": "instance",
        "software": {"name": SOFTWARE_NAME, "version": SOFTWARE_VERSION},
        "implementation": {"description": SOFTWARE_NAME, "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Search results are newest first by default (_sort=-_lastUpdated); paging "
                    "links use a keyset cursor, so they stay correct while resources arrive. "
                    "Unknown search parameters are refused unless Prefer: handling=lenient."
                ),
                "security": {
                    "service": [{"coding": [codes.SECURITY_SERVICE_SMART.coding()]}],
                    "description": (
                        "SMART Backend Services (see /.well-known/smart-configuration). "
                        "Every read, write and search is also decided by the data-sharing "
                        "agreements between the organisations and the person's recorded "
                        "consent (privacy Consent resources): a denied read or write "
                        "answers 403 naming the rule; searches leave out what is denied, "
                        "in totals too. A request may name its purpose of use in "
                        "X-Purpose-Of-Use (TREAT, ETREAT, BTG, safeguarding, "
                        "service-improvement) and, to override recorded dissent to protect "
                        "someone, state why in X-Break-Glass-Justification."
                    ),
                },
                "resource": [_resource(t) for t in SUPPORTED_RESOURCE_TYPES],
            }
        ],
    }


def _resource(resource_type: str) -> dict[str, Any]:
    parameters = PARAMETERS.get(resource_type, ())
    search_params = [
        {
            "name": ID_PARAMETER,
            "definition": COMMON_DEFINITIONS[ID_PARAMETER],
            "type": "token",
            "documentation": "Logical id (comma-separated for any of several).",
        },
        {
            "name": LAST_UPDATED_PARAMETER,
            "definition": COMMON_DEFINITIONS[LAST_UPDATED_PARAMETER],
            "type": "date",
            "documentation": "When the resource last changed (prefixes eq ne gt lt ge le sa eb).",
        },
    ]
    search_params += [
        {
            "name": p.name,
            "definition": p.definition,
            "type": p.type.value,
            "documentation": p.documentation,
        }
        for p in parameters
    ]
    includes = [f"{resource_type}:{p.name}" for p in parameters if p.type is ParamType.REFERENCE]
    statement: dict[str, Any] = {
        "type": resource_type,
        "interaction": [{"code": code} for code in INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": False,
        "conditionalCreate": True,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": search_params,
    }
    if includes:
        statement["searchInclude"] = includes
    return statement
