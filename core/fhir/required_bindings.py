"""Codes with a *required* binding in FHIR R4, for the resource types the gateway stores.

Neither fhir.resources nor HL7's JSON schema enforces these (the schema types most of them
as plain `code`), yet a Trust system that receives "status": "bogus" cannot act on it.
Value sets as published in FHIR R4 (4.0.1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from core.fhir.issues import Issue, IssueCode

_REQUEST_STATUS = (
    "draft",
    "active",
    "on-hold",
    "revoked",
    "completed",
    "entered-in-error",
    "unknown",
)
_REQUEST_INTENT = (
    "proposal",
    "plan",
    "directive",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
)
_REQUEST_PRIORITY = ("routine", "urgent", "asap", "stat")
_EVENT_STATUS = (
    "preparation",
    "in-progress",
    "not-done",
    "on-hold",
    "stopped",
    "completed",
    "entered-in-error",
    "unknown",
)
_TASK_STATUS = (
    "draft",
    "requested",
    "received",
    "accepted",
    "rejected",
    "ready",
    "cancelled",
    "in-progress",
    "on-hold",
    "failed",
    "completed",
    "entered-in-error",
)
_TASK_INTENT = (
    "unknown",
    "proposal",
    "plan",
    "order",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
    "option",
)
_CONSENT_STATE = ("draft", "proposed", "active", "rejected", "inactive", "entered-in-error")
_CONSENT_PROVISION_TYPE = ("deny", "permit")
_CONSENT_DATA_MEANING = ("instance", "related", "dependents", "authoredby")
_ADMINISTRATIVE_GENDER = ("male", "female", "other", "unknown")

# resource type -> element path (dots cross arrays) -> allowed codes
REQUIRED_BINDINGS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "ServiceRequest": {
        "status": _REQUEST_STATUS,
        "intent": _REQUEST_INTENT,
        "priority": _REQUEST_PRIORITY,
    },
    "Communication": {"status": _EVENT_STATUS, "priority": _REQUEST_PRIORITY},
    "Flag": {"status": ("active", "inactive", "entered-in-error")},
    "Task": {"status": _TASK_STATUS, "intent": _TASK_INTENT, "priority": _REQUEST_PRIORITY},
    "Consent": {
        "status": _CONSENT_STATE,
        "provision.type": _CONSENT_PROVISION_TYPE,
        "provision.provision.type": _CONSENT_PROVISION_TYPE,
        "provision.provision.provision.type": _CONSENT_PROVISION_TYPE,
        "provision.data.meaning": _CONSENT_DATA_MEANING,
        "provision.provision.data.meaning": _CONSENT_DATA_MEANING,
        "provision.provision.provision.data.meaning": _CONSENT_DATA_MEANING,
    },
    "Patient": {
        "gender": _ADMINISTRATIVE_GENDER,
        "contact.gender": _ADMINISTRATIVE_GENDER,
        "link.type": ("replaced-by", "replaces", "refer", "seealso"),
    },
    "Provenance": {
        "entity.role": ("derivation", "revision", "quotation", "source", "removal"),
    },
}


def binding_issues(resource: Mapping[str, Any], resource_type: str) -> list[Issue]:
    issues = []
    for path, allowed in REQUIRED_BINDINGS.get(resource_type, {}).items():
        for where, value in _values(resource, path.split("."), resource_type):
            if value not in allowed:
                issues.append(
                    Issue(
                        IssueCode.VALUE,
                        f"The code is not one of the allowed codes: {', '.join(allowed)}.",
                        where,
                    )
                )
    return issues


def _values(node: Any, steps: list[str], here: str) -> Iterator[tuple[str, Any]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _values(item, steps, f"{here}[{index}]")
    elif not steps:
        yield here, node
    elif isinstance(node, Mapping) and steps[0] in node:
        yield from _values(node[steps[0]], steps[1:], f"{here}.{steps[0]}")
