"""What happened, as a FHIR R4 AuditEvent shaped as IHE BALP (Basic Audit Log Patterns) does.

Pure: facts in, JSON out. Shapes follow BALP 1.1 (https://profiles.ihe.net/ITI/BALP/):
the RESTful Create, Read, Update, Delete and Query profiles (their Patient* variants when
a patient is named), AuthZconsent for access decisions, the IUA ITI-71 AuditEvent for
tokens, and the SAML/OAuth Comprehensive profiles for organisations. ``meta.profile`` is
not claimed: BALP's basic profiles fix a successful outcome and require network addresses,
and the gateway records failures, and events with no known address, in the same shape.

Agents (``codes`` names every code used):

- client, the calling system: ``who.identifier`` in the gateway's client-id system,
  ``network`` type 2 (IP address) when known, requestor unless an end user is known.
  Types follow the BALP profile, which follows the data: Create, Update, Query and other
  REST interactions make the client DICOM Source Role ID and the gateway Destination Role
  ID; Read (read, vread, and here history-instance) swaps them; Delete types them
  Application and Custodian. Tokens (ITI-71): Application and OAuth Authorization Server.
  Security alerts (AuthZconsent): Application and authorization server. Application
  activity (DICOM PS3.15 A.5.3.1): Application Launcher and Application.
- gateway, always: ``who.identifier`` its base URL (system urn:ietf:rfc:3986), ``network``
  type 5 (URI), requestor only when nobody else took part; also ``source.observer``.
- user, when the BaRS headers name a practitioner: v3 ParticipationType AUT (author) for
  create, update and delete, IRCP (information recipient) otherwise, as BALP's profiles
  do; the requestor. ``who.identifier`` is the first identifier sent; the rest go in
  BALP's ``ihe-otherId`` extension, typed PRN (provider number) as BALP types a provider
  identifier.
- organisations: BALP gives an organisation an agent of its own (the "userorg" slice of
  the Comprehensive and AuthZconsent profiles; R4 has no agent.onBehalfOf): type v3
  RoleClass PROV (healthcare provider), ``who`` an Organization by ODS code, never the
  requestor. One per distinct ODS code: the end user's, then the client's registered one,
  each with the gateway's ``audit-agent-role`` code(s) in ``role`` saying whose it is
  (``end-user-organisation``, ``client-organisation``, both when they are one), so that
  every column the access log searches is re-derived from the bytes alone
  (core.access_log.index).

Entities: the patient by NHS number, or by the local identifier a person with no NHS
number yet is known by (Person / Patient); each resource touched, versioned when known
(System Object / Domain Resource), with the organisations its data concerns as the store
held that version (see below); the search as sent, base64 in ``query``
(System Object / Query); the decision rule (gateway type; the rule in ``name``, its detail
in ``description``); for an event that stands for several identical refusals, a repeats
entity (gateway type) whose ``detail`` ``occurrences`` holds their count in decimal digits,
with ``period`` the span from the first to the last of them; X-Request-ID (BALP's
XrequestId transaction entity) and X-Correlation-ID (gateway type), each as
``what.identifier`` in a gateway-owned system.

The organisations a resource's data concerns (whose IG leads see the event) are in its
entity's ``detail``, R4's tagged values for an entity, as BALP records a consent's
attributes: ``type`` a URI naming what the value is (BALP uses URNs there; R4 types it a
string, R5 a CodeableConcept), ``valueString`` an ODS code. The types are the gateway's
``audit-entity-detail`` codes, written ``<system>#<code>``: ``data-origin`` once for the
organisation the data came from, then ``data-party`` for each party to it (requester,
performer, recipient, owner...; sorted, each once, the origin too when it is one). Not
agents: BALP's organisation agent ("userorg") is an actor in the event, and these
organisations did nothing in it. Not entities of their own (audit-entity-type 3): that
would lose which data each concerns. ``data_organisations`` reads them back from an
event, as the access log indexes them. A resource the store does not hold has none.

Free text: the builder writes none. ``outcome_desc`` and the decision's rule and detail
are copied unchanged and must be valid FHIR text naming no patient. Every other value
(ids, identifiers, addresses, path segments, even the base URL, which may come from a Host
header) is recorded as given, except that characters FHIR cannot carry there are written
as ``\\uXXXX``: a hostile value can neither break the event nor stop it being recorded.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, IntEnum
from typing import Any, Literal, get_args

from core.codes import audit as audit_codes
from core.codes import common as codes
from core.codes.audit import Subtype
from core.codes.common import Code
from core.fhir.dates import format_instant
from core.fhir.identifiers import is_valid_ods_code
from core.fhir.patients import fact_identifier

# FHIR R4 core codes: AuditEventAction, AuditEventOutcome, AuditEventAgentNetworkType.
Action = Literal["C", "R", "U", "D", "E"]


class AuditOutcome(IntEnum):
    """AuditEvent.outcome. The values are the integers the access log's outcome column
    stores (and searches); the event's JSON carries them as the codes "0", "4" and "8"."""

    SUCCESS = 0
    MINOR_FAILURE = 4  # refused: the request or delivery was turned down
    SERIOUS_FAILURE = 8  # failed: the gateway or a receiver could not do it


_NETWORK_IP_ADDRESS = "2"
_NETWORK_URI = "5"

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:.+", re.DOTALL)
# What a FHIR string cannot (or should not) carry: C0 controls but tab, CR and LF; other
# whitespace; lone surrogates. A uri carries no whitespace at all.
_STRING_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]|[^\S \t\r\n]")
_URI_UNSAFE = re.compile(r"[\x00-\x1f\ud800-\udfff\s]")


class EventKind(Enum):
    """What sort of event, which fixes AuditEvent.type."""

    REST = "rest"  # a FHIR RESTful interaction
    SECURITY_ALERT = "security-alert"  # consent / agreement denials, break-glass
    AUTHENTICATION = "authentication"  # access token issue and refusal
    APPLICATION = "application"  # configuration loads, the gateway's own operations

    @property
    def event_type(self) -> Code:
        return _EVENT_TYPES[self]


_EVENT_TYPES: Mapping[EventKind, Code] = {
    EventKind.REST: audit_codes.EVENT_TYPE_REST,
    EventKind.SECURITY_ALERT: audit_codes.EVENT_TYPE_SECURITY_ALERT,
    EventKind.AUTHENTICATION: audit_codes.EVENT_TYPE_USER_AUTHENTICATION,
    EventKind.APPLICATION: audit_codes.EVENT_TYPE_APPLICATION_ACTIVITY,
}


def _require_text(name: str, value: str | None) -> None:
    """Text the gateway writes: valid FHIR, not blank. Messages never repeat values."""
    if value is not None and (not value.strip() or _STRING_UNSAFE.search(value)):
        raise ValueError(f"{name} must be non-blank text a FHIR string can carry")


def _require_value(name: str, value: str | None) -> None:
    """Values from the wire may be anything but empty: absent is None."""
    if value == "":
        raise ValueError(f"{name} must not be empty (None when absent)")


@dataclass(frozen=True, slots=True)
class AuditedClient:
    """The system that called: its registered id once known (None for a caller refused
    before it was identified, whose network address is still worth recording)."""

    client_id: str | None
    ods_code: str | None
    network_address: str | None

    def __post_init__(self) -> None:
        _require_value("client_id", self.client_id)
        _require_value("ods_code", self.ods_code)
        _require_value("network_address", self.network_address)


@dataclass(frozen=True, slots=True)
class AuditedEndUser:
    """The person behind a system call, as the BaRS end-user headers assert them."""

    organisation_ods: str | None
    practitioner_identifiers: tuple[tuple[str, str], ...]  # (system, value) pairs

    def __post_init__(self) -> None:
        _require_value("organisation_ods", self.organisation_ods)
        for system, value in self.practitioner_identifiers:
            _require_value("practitioner identifier system", system)
            _require_value("practitioner identifier value", value)


@dataclass(frozen=True, slots=True)
class AuditedData:
    """One resource the event touched, or (refused) tried to; recorded as named, with the
    ODS codes of the organisations its data concerns as the store held the version named
    (the current one when unversioned): its origin and its parties. The access log fills
    these in from the store; a resource it does not hold concerns nobody."""

    resource_type: str
    resource_id: str
    version_id: int | None
    origin_ods: str | None = None
    parties_ods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_value("resource_type", self.resource_type)
        _require_value("resource_id", self.resource_id)
        if self.version_id is not None and self.version_id < 1:
            raise ValueError("version_id must count from 1")
        for ods in self.organisations:
            if not is_valid_ods_code(ods):
                raise ValueError("an organisation the data concerns must be an ODS code")

    @property
    def organisations(self) -> frozenset[str]:
        """Every organisation the data concerns: its origin and its parties."""
        origin = () if self.origin_ods is None else (self.origin_ods,)
        return frozenset((*origin, *self.parties_ods))

    @property
    def reference(self) -> str:
        base = f"{self.resource_type}/{self.resource_id}"
        return base if self.version_id is None else f"{base}/_history/{self.version_id}"


@dataclass(frozen=True, slots=True)
class AuditedDecision:
    """The rule that decided (an agreement and its version, a consent provision, a default
    rule), and optionally how; never patient data."""

    rule: str
    detail: str | None

    def __post_init__(self) -> None:
        _require_text("decision rule", self.rule)
        _require_text("decision detail", self.detail)


@dataclass(frozen=True, slots=True)
class AuditFacts:
    """Everything one AuditEvent records, as the shell knows it."""

    event_id: str  # a FHIR id (a UUID fits)
    recorded: datetime  # aware; written in UTC
    kind: EventKind
    subtype: Code  # a Subtype constant
    action: Action
    outcome: AuditOutcome
    outcome_desc: str | None  # copied unchanged: never patient data
    client: AuditedClient | None
    end_user: AuditedEndUser | None
    gateway_base_url: str
    purpose_of_use: tuple[Code, ...]
    # The person the event is about: an NHS number, or a local identifier as
    # `system|value` (core.fhir.patients).
    patient: str | None
    data: tuple[AuditedData, ...]
    query: bytes | None  # the search parameters as sent
    request_id: str | None
    correlation_id: str | None
    decision: AuditedDecision | None
    # How many identical events this one records (the access log's aggregated refusals),
    # and when the first and last of them happened.
    occurrences: int = 1
    period: tuple[datetime, datetime] | None = None

    def __post_init__(self) -> None:
        if self.occurrences < 1:
            raise ValueError("occurrences counts from 1")
        if self.period is not None and not self.period[0] <= self.period[1]:
            raise ValueError("a period starts before it ends")
        if not _FHIR_ID.fullmatch(self.event_id):
            raise ValueError("event_id must be a FHIR id (up to 64 letters, digits, - and .)")
        if self.recorded.utcoffset() is None:
            raise ValueError("recorded must be timezone-aware")
        if self.action not in get_args(Action):
            raise ValueError("action must be one of C, R, U, D, E")
        if self.outcome not in set(AuditOutcome):
            raise ValueError("outcome must be 0, 4 or 8")
        if not _ABSOLUTE_URI.fullmatch(self.gateway_base_url):
            raise ValueError("gateway_base_url must be an absolute URI")
        _require_text("outcome_desc", self.outcome_desc)
        _require_value("patient", self.patient)
        if self.patient is not None and not all(fact_identifier(self.patient)):
            raise ValueError("patient must be an NHS number, or a local identifier system|value")
        _require_value("request_id", self.request_id)
        _require_value("correlation_id", self.correlation_id)


def audit_event(facts: AuditFacts) -> dict[str, Any]:
    """The FHIR R4 AuditEvent (JSON) recording facts; see the module docstring."""
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": facts.event_id,
        "type": facts.kind.event_type.coding(),
        "subtype": [code.coding() for code in _subtypes(facts)],
        "action": facts.action,
        "recorded": format_instant(facts.recorded),
        "outcome": str(int(facts.outcome)),
    }
    if facts.period is not None:
        event["period"] = {
            "start": format_instant(facts.period[0]),
            "end": format_instant(facts.period[1]),
        }
    if facts.outcome_desc is not None:
        event["outcomeDesc"] = facts.outcome_desc
    if facts.purpose_of_use:
        event["purposeOfEvent"] = [_concept(code) for code in facts.purpose_of_use]
    event["agent"] = _agents(facts)
    event["source"] = {
        "observer": _gateway(facts.gateway_base_url),
        "type": [audit_codes.SOURCE_APPLICATION_SERVER.coding()],
    }
    entities = _entities(facts)
    if entities:
        event["entity"] = entities
    return event


def canonical_json(resource: Mapping[str, Any]) -> bytes:
    """An event's canonical bytes: UTF-8 JSON, keys sorted, no insignificant whitespace,
    no NaN or infinity, and no raw line break of any kind.

    The tamper-evident log hashes exactly these bytes, so an event hashes the same
    whatever order its keys were built in. JSON escapes control characters already;
    U+0085, U+2028 and U+2029 are escaped too, since text readers split lines on them
    and one event must stay one line. They can only sit inside JSON strings, so escaping
    them changes no value.
    """
    text = json.dumps(
        resource,
        ensure_ascii=False,
        allow_nan=False,
        sort_keys=True,
        separators=(",", ":"),
        default=_plain,
    )
    for line_break in ("\u0085", "\u2028", "\u2029"):
        text = text.replace(line_break, f"\\u{ord(line_break):04x}")
    return text.encode("utf-8")


def data_organisations(event: Mapping[str, Any]) -> frozenset[str]:
    """The ODS codes an AuditEvent (as JSON, parsed from its canonical bytes) records as
    the organisations its data concerns: every data entity's origin and parties. Anything
    else, malformed or not, is ignored: what the bytes say is all this vouches for."""
    found: set[str] = set()
    entities = event.get("entity")
    for entity in entities if isinstance(entities, list) else ():
        if not isinstance(entity, Mapping):
            continue
        if (entity.get("type"), entity.get("role")) != _DATA_ENTITY:
            continue
        details = entity.get("detail")
        for detail in details if isinstance(details, list) else ():
            if not isinstance(detail, Mapping) or detail.get("type") not in (_ORIGIN, _PARTY):
                continue
            value = detail.get("valueString")
            if isinstance(value, str):
                found.add(value)
    return frozenset(found)


def occurrences(event: Mapping[str, Any]) -> int:
    """How many events an AuditEvent (as JSON) records: its repeats entity's count, else 1."""
    entities = event.get("entity")
    for entity in entities if isinstance(entities, list) else ():
        if not isinstance(entity, Mapping) or entity.get("type") != _REPEATS:
            continue
        details = entity.get("detail")
        for detail in details if isinstance(details, list) else ():
            if not isinstance(detail, Mapping) or detail.get("type") != _OCCURRENCES:
                continue
            value = detail.get("valueString")
            if isinstance(value, str) and value.isdigit():
                return int(value)
    return 1


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _safe(value: str, *, uri: bool = False) -> str:
    """A value from the wire as FHIR can carry it: unchanged when it can be, else with
    each character it cannot written as \\uXXXX."""
    unsafe = _URI_UNSAFE if uri else _STRING_UNSAFE
    return unsafe.sub(lambda match: f"\\u{ord(match.group()):04x}", value)


def _concept(code: Code) -> dict[str, Any]:
    return {"coding": [code.coding()]}


def _identified(system: str, value: str) -> dict[str, Any]:
    return {"identifier": {"system": system, "value": _safe(value)}}


def _person(patient: str) -> dict[str, Any]:
    """The person by their identifier: an NHS number, or a registered local identifier."""
    system, value = fact_identifier(patient)
    return {"identifier": {"system": _safe(system, uri=True), "value": _safe(value)}}


def _gateway(base_url: str) -> dict[str, Any]:
    return {
        "identifier": {"system": codes.URI_IDENTIFIER_SYSTEM, "value": _safe(base_url, uri=True)}
    }


def _subtypes(facts: AuditFacts) -> tuple[Code, ...]:
    # A REST event with a gateway code ($process-message...) is a FHIR operation; BALP's
    # subtype slicing is open, so: `operation`, then which one.
    if facts.kind is EventKind.REST and facts.subtype.system != codes.RESTFUL_INTERACTION_SYSTEM:
        return (Subtype.OPERATION, facts.subtype)
    return (facts.subtype,)


# REST interactions whose data flows from the gateway to the client (BALP Read).
_CLIENT_RECEIVES = frozenset({Subtype.READ, Subtype.VREAD, Subtype.HISTORY_INSTANCE})


def _agent_types(facts: AuditFacts) -> tuple[Code, Code]:
    """(the client's type, the gateway's type), per the BALP profile the event is under."""
    if facts.kind is EventKind.REST:
        if facts.subtype in _CLIENT_RECEIVES:
            return audit_codes.AGENT_DESTINATION_ROLE, audit_codes.AGENT_SOURCE_ROLE
        if facts.subtype == Subtype.DELETE:
            return audit_codes.AGENT_APPLICATION, audit_codes.AGENT_CUSTODIAN
        return audit_codes.AGENT_SOURCE_ROLE, audit_codes.AGENT_DESTINATION_ROLE
    if facts.kind is EventKind.AUTHENTICATION:
        return audit_codes.AGENT_APPLICATION, audit_codes.AGENT_OAUTH_SERVER
    if facts.kind is EventKind.SECURITY_ALERT:
        return audit_codes.AGENT_APPLICATION, audit_codes.AGENT_AUTHORIZATION_SERVER
    return audit_codes.AGENT_APPLICATION_LAUNCHER, audit_codes.AGENT_APPLICATION


def _agents(facts: AuditFacts) -> list[dict[str, Any]]:
    client_type, gateway_type = _agent_types(facts)
    user = _user(facts)
    agents: list[dict[str, Any]] = []
    if facts.client is not None:
        client: dict[str, Any] = {"type": _concept(client_type), "requestor": user is None}
        if facts.client.client_id is not None:
            # R4's agent.who is optional: an unidentified caller is its network address.
            client["who"] = _identified(codes.CLIENT_ID_SYSTEM, facts.client.client_id)
        if facts.client.network_address is not None:
            address = _safe(facts.client.network_address)
            client["network"] = {"address": address, "type": _NETWORK_IP_ADDRESS}
        agents.append(client)
    agents.append(
        {
            "type": _concept(gateway_type),
            "who": _gateway(facts.gateway_base_url),
            "requestor": facts.client is None and user is None,
            "network": {"address": _safe(facts.gateway_base_url, uri=True), "type": _NETWORK_URI},
        }
    )
    if user is not None:
        agents.append(user)
    agents.extend(
        {
            "type": _concept(audit_codes.AGENT_HEALTHCARE_PROVIDER),
            "role": [_concept(role) for role in roles],
            "who": {"type": "Organization", **_identified(codes.ODS_ORGANISATION_SYSTEM, ods)},
            "requestor": False,
        }
        for ods, roles in _organisations(facts).items()
    )
    return agents


def _user(facts: AuditFacts) -> dict[str, Any] | None:
    if facts.end_user is None or not facts.end_user.practitioner_identifiers:
        return None
    (system, value), *others = facts.end_user.practitioner_identifiers
    writes = facts.action in ("C", "U", "D")
    role = audit_codes.AGENT_AUTHOR if writes else audit_codes.AGENT_INFORMATION_RECIPIENT
    user: dict[str, Any] = {
        "type": _concept(role),
        "who": _identified(_safe(system, uri=True), value),
        "requestor": True,
    }
    if others:
        provider_number = _concept(audit_codes.IDENTIFIER_TYPE_PROVIDER_NUMBER)
        user["extension"] = [
            {
                "url": codes.BALP_OTHER_ID_EXTENSION,
                "valueIdentifier": {
                    "type": provider_number,
                    "system": _safe(other_system, uri=True),
                    "value": _safe(other_value),
                },
            }
            for other_system, other_value in others
        ]
    return user


def _organisations(facts: AuditFacts) -> dict[str, list[Code]]:
    """Each organisation agent's ODS code, in order, with whose organisation it is."""
    found: dict[str, list[Code]] = {}
    for ods, role in (
        (facts.end_user.organisation_ods if facts.end_user else None, END_USER_ORGANISATION),
        (facts.client.ods_code if facts.client else None, CLIENT_ORGANISATION),
    ):
        if ods is not None:
            found.setdefault(ods, []).append(role)
    return found


CLIENT_ORGANISATION = audit_codes.AGENT_ROLE_CLIENT_ORGANISATION
END_USER_ORGANISATION = audit_codes.AGENT_ROLE_END_USER_ORGANISATION


def _entities(facts: AuditFacts) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if facts.patient is not None:
        entities.append(
            {
                "what": {"type": "Patient", **_person(facts.patient)},
                "type": audit_codes.ENTITY_PERSON.coding(),
                "role": audit_codes.ROLE_PATIENT.coding(),
            }
        )
    entities.extend(_data(item) for item in facts.data)
    if facts.query is not None:
        query: dict[str, Any] = {
            "type": audit_codes.ENTITY_SYSTEM_OBJECT.coding(),
            "role": audit_codes.ROLE_QUERY.coding(),
        }
        if facts.query:  # a search with no parameters; FHIR has no empty base64Binary
            query["query"] = base64.b64encode(facts.query).decode("ascii")
        entities.append(query)
    if facts.decision is not None:
        decision: dict[str, Any] = {
            "type": audit_codes.ENTITY_DECISION_RULE.coding(),
            "name": facts.decision.rule,
        }
        if facts.decision.detail is not None:
            decision["description"] = facts.decision.detail
        entities.append(decision)
    if facts.occurrences > 1 or facts.period is not None:
        entities.append(
            {
                "type": audit_codes.ENTITY_REPEATS.coding(),
                "detail": [{"type": _OCCURRENCES, "valueString": str(facts.occurrences)}],
            }
        )
    for entity_type, system, value in (
        (audit_codes.ENTITY_REQUEST_ID, codes.X_REQUEST_ID_SYSTEM, facts.request_id),
        (audit_codes.ENTITY_CORRELATION_ID, codes.X_CORRELATION_ID_SYSTEM, facts.correlation_id),
    ):
        if value is not None:
            entities.append({"what": _identified(system, value), "type": entity_type.coding()})
    return entities


# A data entity's details: the organisations its data concerns (see the module docstring).
_ORIGIN, _PARTY = audit_codes.DETAIL_DATA_ORIGIN.uri, audit_codes.DETAIL_DATA_PARTY.uri
_OCCURRENCES = audit_codes.DETAIL_OCCURRENCES.uri
_REPEATS = audit_codes.ENTITY_REPEATS.coding()
_DATA_ENTITY = (
    audit_codes.ENTITY_SYSTEM_OBJECT.coding(),
    audit_codes.ROLE_DOMAIN_RESOURCE.coding(),
)


def _data(item: AuditedData) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "what": {"reference": _safe(item.reference)},
        "type": audit_codes.ENTITY_SYSTEM_OBJECT.coding(),
        "role": audit_codes.ROLE_DOMAIN_RESOURCE.coding(),
    }
    details = [] if item.origin_ods is None else [(_ORIGIN, item.origin_ods)]
    details += [(_PARTY, ods) for ods in sorted(set(item.parties_ods))]
    if details:
        entity["detail"] = [{"type": kind, "valueString": ods} for kind, ods in details]
    return entity
