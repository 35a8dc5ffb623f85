"""What the access log indexes about an AuditEvent, read back from the event alone.

Pure: the event's JSON (parsed from its canonical bytes, the data its Merkle leaf hashes)
in, the values the IG search filters on out. This is the one definition of those values:
the log writes its columns and reference rows from it, `gateway audit verify` re-derives
them from every event's bytes and compares, and the search checks each row it returns
against it. So a value in a column or a reference row is one the signed bytes vouch for.

Columns: the event's id, ``recorded``, the patient (an NHS number, or a local identifier as
``system|value``), the calling client's id and its organisation's ODS code, the subtype
(the last one: a REST operation is ``operation`` then which), action, outcome, the first
purpose of use, and X-Request-ID. References, as (kind, value): ``entity`` for each
resource named (``Type/id``, without its version), ``org`` for each organisation the data
concerns (``data_organisations``), ``agent`` for the end user's organisation and each of
their practitioner identifiers (cut to 255 characters, as the store holds them).

Which organisation agent is the client's and which the end user's is written in the
agent's ``role`` (the gateway's ``audit-agent-role`` codes). Events written before those
roles were (an "older event": it has organisation agents, none with a role) follow the
order the builder always used, the end user's organisation first, then the client's:
the client's organisation is the last one when the event names an identified client; the
end user's is the first one when there are two; with one, the bytes cannot say whether the
end user also belonged to it, so its ``agent`` row may be there or not (``optional``). The
agent search finds such an event by the client's organisation column anyway.

Anything malformed yields what could be read (or nothing): a malformed event never
matches what the shell stored for it, so it is reported, not trusted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.access_log.event import data_organisations
from core.codes import audit as audit_codes
from core.codes import common as codes

ENTITY, AGENT, ORGANISATION = "entity", "agent", "org"
REFERENCE_LENGTH = 255  # audit_references.value

_HISTORY = re.compile(r"/_history/[1-9][0-9]*\Z")
_USER_TYPES = [
    {"coding": [code.coding()]}
    for code in (audit_codes.AGENT_AUTHOR, audit_codes.AGENT_INFORMATION_RECIPIENT)
]
_DATA_ENTITY = (
    audit_codes.ENTITY_SYSTEM_OBJECT.coding(),
    audit_codes.ROLE_DOMAIN_RESOURCE.coding(),
)
_PATIENT_ENTITY = (audit_codes.ENTITY_PERSON.coding(), audit_codes.ROLE_PATIENT.coding())

Reference = tuple[str, str]


@dataclass(frozen=True, slots=True)
class AuditIndex:
    """The searched values of one event. `references` must all be stored; `optional`
    ones may be (an older event's ambiguity, see the module docstring)."""

    event_id: str | None
    recorded: datetime | None
    patient: str | None
    client_id: str | None
    ods_code: str | None
    subtype: str | None
    action: str | None
    outcome: int | None
    purpose: str | None
    request_id: str | None
    references: frozenset[Reference]
    optional: frozenset[Reference] = frozenset()

    def columns(self) -> dict[str, Any]:
        """The log's columns, by name."""
        return {name: getattr(self, name) for name in COLUMNS}


COLUMNS = (
    "event_id",
    "recorded",
    "patient",
    "client_id",
    "ods_code",
    "subtype",
    "action",
    "outcome",
    "purpose",
    "request_id",
)


def index_of(event: object) -> AuditIndex:
    """The searched values an AuditEvent (as parsed JSON) vouches for."""
    found = _dict(event)
    agents = _list(found.get("agent"))
    entities = _list(found.get("entity"))
    client = _client_agent(agents, found.get("source"))
    client_id = _identifier_value(client, codes.CLIENT_ID_SYSTEM)
    client_ods, end_user_ods, optional = _organisations(agents, identified=client_id is not None)
    references = {(ENTITY, reference) for reference in _data_references(entities)}
    references.update((ORGANISATION, ods) for ods in data_organisations(found))
    references.update((AGENT, ods) for ods in end_user_ods)
    references.update((AGENT, value[:REFERENCE_LENGTH]) for value in _practitioners(agents))
    return AuditIndex(
        event_id=_string(found.get("id")),
        recorded=_instant(found.get("recorded")),
        patient=_patient(entities),
        client_id=client_id,
        ods_code=client_ods,
        subtype=_code(_list(found.get("subtype"))[-1:]),
        action=_string(found.get("action")),
        outcome=_outcome(found.get("outcome")),
        purpose=_first_coding_code(_list(found.get("purposeOfEvent"))[:1]),
        request_id=_request_id(entities),
        references=frozenset(references),
        optional=frozenset((AGENT, ods) for ods in optional) - references,
    )


# Parsed JSON holds plain dicts and lists: checking for exactly those (not the ABCs) keeps
# a pass of verify over millions of events fast.
def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _string(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


_EMPTY: Mapping[str, Any] = {}


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.endswith("Z"):
        return None
    try:
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=UTC)
    except ValueError:
        return None


def _outcome(value: object) -> int | None:
    return int(value) if isinstance(value, str) and value in ("0", "4", "8") else None


def _code(codings: list[Any]) -> str | None:
    return _string(_dict(codings[0]).get("code")) if codings else None


def _first_coding_code(concepts: list[Any]) -> str | None:
    return _code(_list(_dict(concepts[0]).get("coding"))) if concepts else None


def _identifier_value(holder: Mapping[str, Any], system: str) -> str | None:
    identifier = _dict(_dict(holder.get("who")).get("identifier"))
    return _string(identifier.get("value")) if identifier.get("system") == system else None


def _client_agent(agents: list[Any], source: object) -> Mapping[str, Any]:
    """The calling system's agent: the one just before the gateway's own (whose `who` is
    the event's observer), when there is one."""
    observer = _dict(source).get("observer")
    for number, agent in enumerate(agents):
        if observer is not None and _dict(agent).get("who") == observer:
            return _dict(agents[number - 1]) if number > 0 else {}
    return {}


def _organisations(
    agents: list[Any], *, identified: bool
) -> tuple[str | None, list[str], list[str]]:
    """(the client's ODS code, the end user's ODS codes, optional agent ODS codes)."""
    provider = _PROVIDER
    organisations = [
        (ods, _list(agent.get("role")))
        for agent in map(_dict, agents)
        if agent.get("type") == provider
        and (ods := _identifier_value(agent, codes.ODS_ORGANISATION_SYSTEM)) is not None
    ]
    if any(roles for _, roles in organisations):
        client, end_user = _CLIENT_ORGANISATION, _END_USER_ORGANISATION
        clients = [ods for ods, roles in organisations if client in roles]
        end_users = [ods for ods, roles in organisations if end_user in roles]
        return (clients[0] if clients else None), end_users, []
    # An older event: the end user's organisation first, then the client's.
    codes_in_order = [ods for ods, _ in organisations]
    client_ods = codes_in_order[-1] if identified and codes_in_order else None
    if len(codes_in_order) >= 2:
        return client_ods, codes_in_order[:1], []
    return client_ods, [], codes_in_order


def _concept_of(code: codes.Code) -> dict[str, Any]:
    return {"coding": [code.coding()]}


_PROVIDER = _concept_of(audit_codes.AGENT_HEALTHCARE_PROVIDER)
_CLIENT_ORGANISATION = _concept_of(audit_codes.AGENT_ROLE_CLIENT_ORGANISATION)
_END_USER_ORGANISATION = _concept_of(audit_codes.AGENT_ROLE_END_USER_ORGANISATION)


def _practitioners(agents: list[Any]) -> list[str]:
    """The end user's identifiers: its agent's `who`, then BALP's ihe-otherId ones."""
    found: list[str] = []
    for agent in map(_dict, agents):
        if agent.get("type") not in _USER_TYPES:
            continue
        value = _string(_dict(_dict(agent.get("who")).get("identifier")).get("value"))
        if value is not None:
            found.append(value)
        for extension in map(_dict, _list(agent.get("extension"))):
            if extension.get("url") == codes.BALP_OTHER_ID_EXTENSION:
                other = _string(_dict(extension.get("valueIdentifier")).get("value"))
                if other is not None:
                    found.append(other)
    return found


def _patient(entities: list[Any]) -> str | None:
    for entity in map(_dict, entities):
        if (entity.get("type"), entity.get("role")) != _PATIENT_ENTITY:
            continue
        identifier = _dict(_dict(entity.get("what")).get("identifier"))
        system, value = _string(identifier.get("system")), _string(identifier.get("value"))
        if system is None or value is None:
            return None
        return value if system == codes.NHS_NUMBER_SYSTEM else f"{system}|{value}"
    return None


def _request_id(entities: list[Any]) -> str | None:
    for entity in map(_dict, entities):
        if entity.get("type") == audit_codes.ENTITY_REQUEST_ID.coding():
            return _identifier_value({"who": entity.get("what")}, codes.X_REQUEST_ID_SYSTEM)
    return None


def _data_references(entities: list[Any]) -> list[str]:
    found = []
    for entity in map(_dict, entities):
        if (entity.get("type"), entity.get("role")) != _DATA_ENTITY:
            continue
        reference = _string(_dict(entity.get("what")).get("reference"))
        if reference is not None:
            found.append(_HISTORY.sub("", reference))
    return found
