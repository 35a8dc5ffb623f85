"""Which organisations a resource names as parties, and which of them sends it.

An organisation may see a resource only if it is party to it (requester, performer,
sender, recipient, owner...); only its origin, the sender that created it, changes it
(core.fhir.authorship). References name an organisation either by its
ODS code (`{"identifier": {"system": ODS, "value": "RZZ"}}`, the UK Core way) or
literally (`Organization/<id>`), which the shell resolves through the directory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM, is_valid_ods_code

# A gateway extension (listed in core.codes, which imports this module's neighbours).
EXTENSION_RECIPIENT = "https://fhir.mh-gateway.example.org/StructureDefinition/recipient"
# The code system of a safeguarding action's Task.code (listed in core.codes.safeguarding):
# such a Task is raised by its requester, who is therefore its sender (see sender_role).
SAFEGUARDING_ACTION_SYSTEM = "https://fhir.mh-gateway.example.org/CodeSystem/safeguarding-action"

# Resource types every authenticated organisation may read: the directory holds no
# patient data.
DIRECTORY_TYPES = frozenset({"Organization"})


@dataclass(frozen=True, slots=True)
class PartyRole:
    basis: str  # the role, recorded with the party: requester, performer, sender...
    path: str  # dotted element path from the resource root
    # For a path through `extension`: only extensions with this url count.
    extension_url: str | None = None


@dataclass(frozen=True, slots=True)
class PartyReference:
    basis: str
    ods_code: str | None = None  # named by ODS identifier
    organization_id: str | None = None  # named by literal reference Organization/<id>


# For each type, its party elements; the first is the sender's (the organisation that
# makes the resource and must be the one calling).
PARTY_ROLES: dict[str, tuple[PartyRole, ...]] = {
    "ServiceRequest": (PartyRole("requester", "requester"), PartyRole("performer", "performer")),
    "Communication": (PartyRole("sender", "sender"), PartyRole("recipient", "recipient")),
    # A Task here is a receiver's answer to a referral (accept, decline, progress): the
    # owner is the organisation asked to act, and the one that acts on the Task, so it is
    # the sender. It must be the caller on create and on every update (as for every type):
    # the referrer, a party as requester, reads the answer but cannot forge one. Nor can
    # the owner forge the requester: the gateway holds Task.requester to the focus
    # ServiceRequest's requester (core.handover.referral_tasks), and only that ServiceRequest's
    # performer may write a Task on it (gateway.handovers.referral_answers).
    "Task": (PartyRole("owner", "owner"), PartyRole("requester", "requester")),
    # R4 Flag names no recipient: the gateway's recipient extension says whom a risk flag
    # was shared with (codes.EXTENSION_RECIPIENT), so that organisation may read it.
    "Flag": (
        PartyRole("author", "author"),
        PartyRole("recipient", "extension.valueReference", EXTENSION_RECIPIENT),
    ),
    "Consent": (PartyRole("custodian", "organization"), PartyRole("performer", "performer")),
    "Provenance": (PartyRole("agent", "agent.who"), PartyRole("agent", "agent.onBehalfOf")),
    "Patient": (
        PartyRole("managing-organization", "managingOrganization"),
        PartyRole("general-practitioner", "generalPractitioner"),
    ),
    "Organization": (PartyRole("self", "identifier"),),
}


# A safeguarding action (a Task coded in SAFEGUARDING_ACTION_SYSTEM) is the other way
# round from a referral answer: the requester raises it and asks the owner to act, so the
# requester is its sender and its origin, and only the gateway's own workflow writes its
# later versions (gateway.safeguarding: the owner moves it on through the API, which
# checks the owner rule and records a Provenance naming who asked).
_SAFEGUARDING_ACTION_SENDER = PartyRole("requester", "requester")


def sender_role(resource_type: str, resource: Mapping[str, Any] | None = None) -> PartyRole:
    """The role whose organisation sends (makes) a resource of this type; `resource`,
    where given, decides between the two kinds of Task."""
    if resource_type == "Task" and resource is not None and is_safeguarding_action(resource):
        return _SAFEGUARDING_ACTION_SENDER
    return PARTY_ROLES[resource_type][0]


def is_safeguarding_action(task: Mapping[str, Any]) -> bool:
    """Whether a Task is a safeguarding action: its code is in the gateway's system."""
    code = task.get("code")
    codings = code.get("coding") if isinstance(code, Mapping) else None
    return any(
        isinstance(coding, Mapping) and coding.get("system") == SAFEGUARDING_ACTION_SYSTEM
        for coding in (codings if isinstance(codings, list) else [])
    )


def party_references(resource_type: str, resource: Mapping[str, Any]) -> list[PartyReference]:
    """Every organisation the resource names in a party role, in a stable order."""
    found: dict[PartyReference, None] = {}
    for role in PARTY_ROLES.get(resource_type, ()):
        root: Any = resource
        if role.extension_url is not None:
            root = {"extension": _extensions(resource, role.extension_url)}
        for element in _elements(root, role.path.split(".")):
            for reference in _organisations(role.basis, element, role.basis == "self"):
                found[reference] = None
    return list(found)


def _extensions(resource: Mapping[str, Any], url: str) -> list[Any]:
    extensions = resource.get("extension")
    if not isinstance(extensions, list):
        return []
    return [e for e in extensions if isinstance(e, Mapping) and e.get("url") == url]


def _organisations(basis: str, element: Any, self_identifier: bool) -> Iterator[PartyReference]:
    """Both the ODS identifier and the literal reference when a reference has both: each
    names a party, so one cannot hide behind the other."""
    if not isinstance(element, Mapping):
        return
    identifier = element if self_identifier else element.get("identifier")
    if isinstance(identifier, Mapping) and identifier.get("system") == ODS_ORGANISATION_SYSTEM:
        value = identifier.get("value")
        if isinstance(value, str) and is_valid_ods_code(value):
            yield PartyReference(basis, ods_code=value)
    reference = element.get("reference")
    if not self_identifier and isinstance(reference, str):
        organization_id = _literal_organization_id(reference)
        if organization_id is not None:
            yield PartyReference(basis, organization_id=organization_id)


def _literal_organization_id(reference: str) -> str | None:
    # Relative (Organization/x) or absolute on any base (.../Organization/x[/_history/n]).
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == "Organization" and parts[-1]:
        return parts[-1]
    return None


def _elements(node: Any, steps: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _elements(item, steps)
        return
    if not steps:
        yield node
        return
    if isinstance(node, Mapping) and steps[0] in node:
        yield from _elements(node[steps[0]], steps[1:])
