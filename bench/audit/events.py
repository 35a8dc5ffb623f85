"""Synthetic access-log events, byte for byte as the gateway would write them.

Each event is one of a few templates (what a request of some kind records: a create, a
read, a search by NHS number, an update, a token, a refusal, with or without BaRS
end-user headers), built once by the gateway's own code (`AuditFacts` ->
`core.access_log.event.audit_event` -> `canonical_json`) with placeholder values, and cut
at the placeholders. An event is then the template's fragments joined around its own
values (event id, recorded time, patient, client and ODS code, resource ids, request and
correlation ids, the base64 query). That is exact because every value is plain ASCII that
JSON writes unescaped, and `canonical_json` sorts keys, never values, so the bytes around
a value do not depend on it. `Events.facts` rebuilds an event's `AuditFacts`, so the
loader can check a sample against `gateway.access_log.log._row` (see bench/audit/load.py).

Everything is deterministic for a seed. Recorded times increase along a timeline (by
default a year, ending an hour before the run), one event every `span / count`.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any
from urllib.parse import urlencode

from bench.auth import IG_LEAD, IG_LEAD_ODS, client_id
from bench.data import NHS_NUMBER_SYSTEM, ORGANISATIONS, nhs_number, organisation_code
from core.access_log.event import (
    AuditedClient,
    AuditedData,
    AuditedEndUser,
    AuditFacts,
    EventKind,
    audit_event,
    canonical_json,
)
from core.codes import sharing as sharing_codes
from core.codes.audit import Subtype
from core.codes.common import Code

# What the gateway's own server calls itself when no public base URL is set.
GATEWAY_BASE_URL = "http://127.0.0.1:8080"
CLIENT_ADDRESS = "127.0.0.1"
SDS_USER_SYSTEM = "https://fhir.nhs.uk/Id/sds-user-id"
SDS_ROLE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"
PATIENTS = 200_000
_DIRECT_CARE = sharing_codes.PURPOSES_OF_USE["direct-care"]

# Placeholders: each a valid value where it stands, none a substring of another or of
# anything else the gateway writes.
_EVENT_ID = "QQEVENTIDQQ"
_RECORDED = datetime(2000, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_RECORDED_TEXT = "2000-01-02T03:04:05.678901Z"
_PATIENT = "QQPATIENTQQ"
_CLIENT = "QQCLIENTQQ"
_ODS = "QQODSQQ"
_USER_ODS = "QQUSERODSQQ"
_USER_ID = "QQUSERIDQQ"
_ROLE_ID = "QQROLEIDQQ"
_REQUEST = "QQREQUESTQQ"
_CORRELATION = "QQCORRELATIONQQ"
_QUERY = b"QQQUERYQQ"
_DATA = "QQDATA{}QQ"


@dataclass(frozen=True, slots=True)
class Template:
    """One kind of event: how its facts are made, and its canonical bytes cut into
    fragments around the slots its values fill."""

    name: str
    weight: int
    kind: EventKind
    subtype: Code
    action: str
    outcome: int
    outcome_desc: str | None
    resource_type: str | None  # of its data
    data: int  # resources it names
    version: int  # of each resource named
    patient: bool
    end_user: bool
    query: bool
    client: str  # "org" (one of the 200 organisations' clients) or "ig"
    fragments: tuple[bytes, ...] = ()
    slots: tuple[str, ...] = ()


# name, weight (per 1000), kind, subtype, action, outcome, outcome_desc, resource type,
# resources named, their version, patient?, end user?, query?, client
_SPECS: tuple[tuple[Any, ...], ...] = (
    ("create ServiceRequest", 150, EventKind.REST, Subtype.CREATE, "C", 0, None,
     "ServiceRequest", 1, 1, True, False, False, "org"),
    ("create ServiceRequest, end user", 50, EventKind.REST, Subtype.CREATE, "C", 0, None,
     "ServiceRequest", 1, 1, True, True, False, "org"),
    ("create Communication", 100, EventKind.REST, Subtype.CREATE, "C", 0, None,
     "Communication", 1, 1, True, False, False, "org"),
    ("read ServiceRequest", 180, EventKind.REST, Subtype.READ, "R", 0, None,
     "ServiceRequest", 1, 1, True, False, False, "org"),
    ("read Communication, end user", 70, EventKind.REST, Subtype.READ, "R", 0, None,
     "Communication", 1, 1, True, True, False, "org"),
    ("search ServiceRequest by NHS number (2 found)", 200, EventKind.REST,
     Subtype.SEARCH_TYPE, "E", 0, None, "ServiceRequest", 2, 1, True, False, True, "org"),
    ("search ServiceRequest by NHS number (1 found), end user", 50, EventKind.REST,
     Subtype.SEARCH_TYPE, "E", 0, None, "ServiceRequest", 1, 1, True, True, True, "org"),
    ("update ServiceRequest", 60, EventKind.REST, Subtype.UPDATE, "U", 0, None,
     "ServiceRequest", 1, 2, True, False, False, "org"),
    ("token", 100, EventKind.AUTHENTICATION, Subtype.LOGIN, "E", 0, None,
     None, 0, 1, False, False, False, "org"),
    ("read refused (not party to it)", 35, EventKind.REST, Subtype.READ, "R", 4,
     "The resource was not found, or the caller may not see it.", "ServiceRequest", 1, 1,
     False, False, False, "org"),
    ("AuditEvent search by the IG lead", 5, EventKind.REST, Subtype.SEARCH_TYPE, "E", 0,
     None, None, 0, 1, False, False, False, "ig"),
)  # fmt: skip


def _facts(template: Template, values: dict[str, Any]) -> AuditFacts:
    """The AuditFacts an event of this template records, from its values (placeholders
    or real ones), made as gateway.access_log.trail.AccessTrail.events makes them."""
    end_user = (
        AuditedEndUser(
            values["user_ods"],
            ((SDS_USER_SYSTEM, values["user_id"]), (SDS_ROLE_SYSTEM, values["role_id"])),
        )
        if template.end_user
        else None
    )
    return AuditFacts(
        event_id=values["event_id"],
        recorded=values["recorded"],
        kind=template.kind,
        subtype=template.subtype,
        action=template.action,  # type: ignore[arg-type]
        outcome=template.outcome,  # type: ignore[arg-type]
        outcome_desc=template.outcome_desc,
        client=AuditedClient(values["client"], values["ods"], CLIENT_ADDRESS),
        end_user=end_user,
        gateway_base_url=GATEWAY_BASE_URL,
        purpose_of_use=(_DIRECT_CARE,),
        patient=values["patient"] if template.patient else None,
        data=tuple(
            AuditedData(template.resource_type or "", values[f"data{n}"], template.version)
            for n in range(template.data)
        ),
        query=values["query"] if template.query else None,
        request_id=values["request"],
        correlation_id=values["correlation"],
        decision=None,
    )


_PLACEHOLDERS: dict[str, Any] = {
    "event_id": _EVENT_ID,
    "recorded": _RECORDED,
    "patient": _PATIENT,
    "client": _CLIENT,
    "ods": _ODS,
    "user_ods": _USER_ODS,
    "user_id": _USER_ID,
    "role_id": _ROLE_ID,
    "request": _REQUEST,
    "correlation": _CORRELATION,
    "query": _QUERY,
    **{f"data{n}": _DATA.format(n) for n in range(4)},
}
# Placeholder as it appears in the canonical bytes -> the slot it marks.
_MARKS = {
    _EVENT_ID.encode(): "event_id",
    _RECORDED_TEXT.encode(): "recorded",
    _PATIENT.encode(): "patient",
    _CLIENT.encode(): "client",
    _ODS.encode(): "ods",
    _USER_ODS.encode(): "user_ods",
    _USER_ID.encode(): "user_id",
    _ROLE_ID.encode(): "role_id",
    _REQUEST.encode(): "request",
    _CORRELATION.encode(): "correlation",
    base64.b64encode(_QUERY): "query64",
    **{_DATA.format(n).encode(): f"data{n}" for n in range(4)},
}
_SPLIT = re.compile(b"(" + b"|".join(re.escape(mark) for mark in _MARKS) + b")")


def build_templates() -> list[Template]:
    templates = []
    for spec in _SPECS:
        template = Template(*spec)
        content = canonical_json(audit_event(_facts(template, _PLACEHOLDERS)))
        pieces = _SPLIT.split(content)
        fragments = tuple(pieces[0::2])
        slots = tuple(_MARKS[mark] for mark in pieces[1::2])
        templates.append(
            Template(*spec, fragments=fragments, slots=slots)  # type: ignore[misc]
        )
    return templates


@dataclass(slots=True)
class Event:
    """One generated event: its row (as gateway.access_log.log._row makes it, plus seq and
    position) and its audit_references (kind, value) pairs."""

    position: int
    template: Template
    values: dict[str, Any]
    content: bytes
    leaf_hash: bytes
    references: list[tuple[str, str]]

    def row(self) -> dict[str, Any]:
        """The columns gateway.access_log.log._row gives, for the sample check."""
        template, values = self.template, self.values
        return {
            "event_id": values["event_id"],
            "recorded": values["recorded"],
            "content": self.content,
            "leaf_hash": self.leaf_hash,
            "patient": values["patient"] if template.patient else None,
            "client_id": values["client"],
            "ods_code": values["ods"],
            "subtype": template.subtype.code,
            "action": template.action,
            "outcome": template.outcome,
            "purpose": _DIRECT_CARE.code,
            "request_id": values["request"],
        }


class Events:
    """Generates `count` events in position order (0, 1, ...), over the timeline
    `[end - span, end)`."""

    def __init__(self, seed: int, count: int, end: datetime, span: timedelta) -> None:
        self.templates = build_templates()
        self.count = count
        self.start = end - span
        self.end = end
        self._span_us = span // timedelta(microseconds=1)
        self._rng = random.Random(seed)
        self._choices = [t for t in self.templates for _ in range(t.weight)]
        self._patients = [nhs_number(n) for n in range(PATIENTS)]
        self._organisations = [organisation_code(n) for n in range(1, ORGANISATIONS + 1)]
        self._clients = [client_id(ods) for ods in self._organisations]
        # Bounded random samples of the patients, practitioners (end users) and resources
        # the events name, for the searches to ask about; drawn with a generator of their
        # own, so that sampling leaves the events as they are.
        self.patient_sample: list[str] = []
        self.practitioner_sample: list[str] = []
        self.entity_sample: list[str] = []
        self._sample_rng = random.Random(seed + 1)

    def recorded(self, position: int) -> datetime:
        """The recorded time of the event at `position`, before its jitter."""
        return self.start + timedelta(microseconds=position * self._span_us // self.count)

    def __iter__(self) -> Iterator[Event]:
        rng = self._rng
        choices, clients, organisations = self._choices, self._clients, self._organisations
        patients = self._patients
        getrandbits, random_ = rng.getrandbits, rng.random
        start, span_us, count = self.start, self._span_us, self.count
        step_us = max(1, span_us // count)
        keep = _Reservoirs(self._sample_rng)
        organisation_count = len(organisations)
        choice_count = len(choices)
        query_prefix = urlencode([("subject:identifier", f"{NHS_NUMBER_SYSTEM}|")])
        for position in range(count):
            template = choices[int(random_() * choice_count)]
            recorded = start + timedelta(
                microseconds=position * span_us // count + int(random_() * step_us)
            )
            if template.client == "ig":
                client, ods = IG_LEAD, IG_LEAD_ODS
                org = -1
            else:
                org = int(random_() * organisation_count)
                client, ods = clients[org], organisations[org]
            values: dict[str, Any] = {
                "event_id": _uuid(getrandbits(128)),
                "recorded": recorded,
                "client": client,
                "ods": ods,
                "request": _uuid(getrandbits(128)),
                "correlation": _uuid(getrandbits(128)),
            }
            references: list[tuple[str, str]] = []
            if template.patient:
                patient = patients[int(random_() * PATIENTS)]
                values["patient"] = patient
                keep.offer(self.patient_sample, patient)
                if template.query:
                    values["query"] = (query_prefix + patient).encode()
            for n in range(template.data):
                resource_id = _uuid(getrandbits(128))
                values[f"data{n}"] = resource_id
                references.append(("entity", f"{template.resource_type}/{resource_id}"))
            if template.data:
                keep.offer(self.entity_sample, references[0][1])
            if template.end_user:
                # Another organisation than the client's (the gateway lists both).
                other = (org + 1 + int(random_() * (organisation_count - 1))) % organisation_count
                user_ods = organisations[other]
                values["user_ods"] = user_ods
                values["user_id"] = str(555_000_000_000 + getrandbits(30))
                values["role_id"] = str(555_000_000_000 + getrandbits(30))
                keep.offer(self.practitioner_sample, values["user_id"])
                references += [
                    ("agent", user_ods),
                    ("agent", values["user_id"]),
                    ("agent", values["role_id"]),
                ]
            content = _fill(template, values)
            hasher = _leaf_hasher()
            hasher.update(content)
            references.sort()
            yield Event(position, template, values, content, hasher.digest(), references)

    @staticmethod
    def facts(event: Event) -> AuditFacts:
        return _facts(event.template, event.values)


_leaf_hasher = sha256(b"\x00").copy
SAMPLE = 20_000


class _Reservoirs:
    """Uniform random samples of at most SAMPLE values each (reservoir sampling)."""

    def __init__(self, rng: random.Random) -> None:
        self._random = rng.random
        self._seen: dict[int, int] = {}

    def offer(self, sample: list[str], value: str) -> None:
        seen = self._seen[id(sample)] = self._seen.get(id(sample), 0) + 1
        if len(sample) < SAMPLE:
            sample.append(value)
        elif int(self._random() * seen) < SAMPLE:
            sample[int(self._random() * SAMPLE)] = value


def _fill(template: Template, values: dict[str, Any]) -> bytes:
    text = dict(values)
    text["recorded"] = (
        values["recorded"].replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    )
    if template.query:
        text["query64"] = base64.b64encode(values["query"]).decode()
    fragments = template.fragments
    return b"".join(
        [
            fragments[0],
            *[
                part
                for n, slot in enumerate(template.slots, start=1)
                for part in (text[slot].encode(), fragments[n])
            ],
        ]
    )


def _uuid(bits: int) -> str:
    """A version-4 UUID's text from 128 random bits."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[bits & 3]}{h[17:20]}-{h[20:32]}"
