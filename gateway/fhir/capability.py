"""The CapabilityStatement, generated from the same tables the server runs on, so it can
only ever list what is implemented."""

from __future__ import annotations

from typing import Any

from core.codes import sharing as sharing_codes
from core.fhir.models import FHIR_VERSION, SUPPORTED_RESOURCE_TYPES
from core.fhir.parties import DIRECTORY_TYPES
from core.search.parameters import (
    COMMON_DEFINITIONS,
    HL7_SEARCH_PARAMETER,
    ID_PARAMETER,
    LAST_UPDATED_PARAMETER,
    PARAMETERS,
    ParamType,
)
from core.subscriptions.request import FULL_RESOURCE, RESOURCE_TYPE, SUBSCRIBABLE_TYPES

# The interactions each resource type supports, as routed in gateway.fhir.routes; the
# directory (Organization) is configuration, so read and searched only.
INTERACTIONS = ("create", "read", "vread", "update", "history-instance", "search-type")
READ_ONLY_INTERACTIONS = ("read", "vread", "history-instance", "search-type")
DIRECTORY_DOCUMENTATION = (
    "This deployment's directory of organisations, from its configuration "
    "(organisations.yaml): read and search only; create, update and delete answer 405."
)
SOFTWARE_NAME = "Mental-health interface gateway"
SOFTWARE_VERSION = "0.1.0"


PROCESS_MESSAGE_DEFINITION = "http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message"
# Defined by the gateway (no standard operation returns a decision-ready summary).
SUMMARY_DEFINITION = "https://fhir.mh-gateway.example.org/OperationDefinition/Communication-summary"
# The BaRS referral message, as the gateway's own MessageDefinition canonical.
REFERRAL_MESSAGE = "https://fhir.mh-gateway.example.org/MessageDefinition/referral"


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
                    "service": [{"coding": [sharing_codes.SECURITY_SERVICE_SMART.coding()]}],
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
                "resource": [
                    *(_resource(t) for t in SUPPORTED_RESOURCE_TYPES),
                    _subscription(),
                ],
                "operation": [
                    {
                        # FHIR R4's own definition; BaRS referral messages (docs/handovers.md).
                        "name": "process-message",
                        "definition": PROCESS_MESSAGE_DEFINITION,
                        "documentation": (
                            "A BaRS referral message (eventCoding servicerequest-request), "
                            "read into the handover dataset and checked as one sent to "
                            "/api/handovers; answered with a response message."
                        ),
                    }
                ],
            }
        ],
        "messaging": [
            {
                "documentation": "Synchronous: POST a message Bundle to $process-message.",
                "supportedMessage": [{"mode": "receiver", "definition": REFERRAL_MESSAGE}],
            }
        ],
    }


def _subscription() -> dict[str, Any]:
    """Subscription, as gateway.subscriptions.routes serves it: the gateway's own record
    of what to notify whom of, no history kept."""
    return {
        "type": RESOURCE_TYPE,
        "documentation": (
            "Rest-hook Subscriptions (FHIR R4). criteria: a search this server supports on "
            f"{', '.join(SUBSCRIBABLE_TYPES)}; channel.endpoint: a URL under one configured "
            "for your organisation; channel.payload: absent (a POST with no body) or "
            f"{FULL_RESOURCE} (the resource PUT to [endpoint]/[type]/[id]). You are notified "
            "only of what your organisation could read. Your organisation's own "
            "Subscriptions only: another's answers 404."
        ),
        "interaction": [
            {"code": code} for code in ("create", "read", "update", "delete", "search-type")
        ],
        "versioning": "versioned-update",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": [
            {
                "name": ID_PARAMETER,
                "definition": COMMON_DEFINITIONS[ID_PARAMETER],
                "type": "token",
                "documentation": "Logical id (comma-separated for any of several).",
            },
            {
                "name": "status",
                "definition": f"{HL7_SEARCH_PARAMETER}Subscription-status",
                "type": "token",
                "documentation": "requested, active, error or off.",
            },
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
    directory = resource_type in DIRECTORY_TYPES
    statement: dict[str, Any] = {"type": resource_type}
    if directory:
        statement["documentation"] = DIRECTORY_DOCUMENTATION
    statement |= {
        "interaction": [
            {"code": code} for code in (READ_ONLY_INTERACTIONS if directory else INTERACTIONS)
        ],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": False,
        "conditionalCreate": not directory,
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        "searchParam": search_params,
    }
    if includes:
        statement["searchInclude"] = includes
    if resource_type == "Communication":
        statement["operation"] = [
            {
                "name": "summary",
                "definition": SUMMARY_DEFINITION,
                "documentation": (
                    "GET /fhir/Communication/{id}/$summary: a handover or escalation as one "
                    "decision-ready document, the dataset as JSON or (Accept: text/html, "
                    "or _format=html) a page for a crisis clinician."
                ),
            }
        ]
    return statement
