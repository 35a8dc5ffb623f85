"""A Subscription as a client sends it, read into what the gateway acts on: which
resources it is about (criteria, a search this server runs), where and how to notify
(a rest-hook channel under the organisation's configured URLs, with or without the
resource), and the status the client asks for.

FHIR R4 Subscription: `status` requested -> active is the server's to set, as are error
(a channel that keeps failing) and `error`; a client asks for requested (or active) and
may turn its subscription off. Messages name elements, never what was sent in them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from core.fhir.dates import parse_date_range
from core.fhir.issues import ContentError, Issue, IssueCode
from core.fhir.models import SUPPORTED_RESOURCE_TYPES
from core.fhir.parties import DIRECTORY_TYPES
from core.fhir.validation import validate_structure
from core.search.errors import FormatNotServed, SearchRefused
from core.search.query import PagingLimits, SearchQuery, parse_search
from core.subscriptions.endpoints import MAX_URL_LENGTH, endpoint_allowed

RESOURCE_TYPE = "Subscription"
# What a Subscription may be about: the records the gateway stores. The directory
# (Organization) is configuration, not data.
SUBSCRIBABLE_TYPES: tuple[str, ...] = tuple(
    t for t in SUPPORTED_RESOURCE_TYPES if t not in DIRECTORY_TYPES
)
REST_HOOK = "rest-hook"
# channel.payload for a notification carrying the resource; none: an empty notification.
FULL_RESOURCE = "application/fhir+json"
MAX_CRITERIA_LENGTH = 2048
MAX_HEADERS = 10
MAX_HEADER_LENGTH = 1024
# Headers the gateway or the HTTP exchange sets on every notification: never a client's.
# (The endpoint's own authentication, SMART or mutual TLS, is configured, not sent.)
RESERVED_HEADERS = frozenset(
    {
        "accept",
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "expect",
        "host",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-correlation-id",
        "x-request-id",
    }
)
# Search parameters that shape a page of results rather than choose resources: they mean
# nothing in a subscription's criteria.
_NOT_FILTERS = frozenset(
    {"_include", "_revinclude", "_sort", "_count", "_total", "_format", "_cursor", "_page"}
)
_HEADER = re.compile(r"(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}):[ \t]*(?P<value>[\x20-\x7e]*)")
_TYPE_NAME = re.compile(r"[A-Z][A-Za-z]{1,63}")
# A body of another type sent here is told it does not match the URL.
_SERVED = (*SUPPORTED_RESOURCE_TYPES, RESOURCE_TYPE)
# Only matching is done with the search: one resource, by id, at a time.
_MATCHING = PagingLimits(1, 1)


class Status(StrEnum):
    """FHIR R4 subscription-status."""

    REQUESTED = "requested"
    ACTIVE = "active"
    ERROR = "error"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Criteria:
    """`Type?query`: the resources of one type the query matches."""

    resource_type: str
    params: tuple[tuple[str, str], ...]

    def query(self) -> SearchQuery:
        """The search the criteria stand for (checked when the Subscription was taken)."""
        return parse_search(self.resource_type, self.params, _MATCHING)


@dataclass(frozen=True, slots=True)
class Terms:
    """What a Subscription asks for, checked."""

    criteria: Criteria
    endpoint: str
    payload: str | None  # FULL_RESOURCE, or None for an empty notification
    headers: tuple[tuple[str, str], ...]
    status: Status  # as the gateway will hold it: active, off, or error kept
    end: datetime | None
    # The resource as sent, without what the server owns (id, meta.versionId and
    # lastUpdated, status, error): the gateway adds those.
    content: dict[str, Any]


def valid_structure(body: dict[str, Any]) -> dict[str, Any]:
    """A Subscription checked against the R4 models (core.fhir.validation), without
    what the server owns; ContentError (400) otherwise."""
    return validate_structure(body, RESOURCE_TYPE, served=_SERVED)


def read_subscription(
    resource: Mapping[str, Any], *, bases: Iterable[str], current: Status | None = None
) -> Terms:
    """`resource`: as valid_structure returns it (and any further checks of the shell's
    passed); `bases`: the URLs the subscriber's organisation's notifications may go
    under (endpoints.yaml); `current`: the status held now, on an update. ContentError
    (422, naming the element) for what breaks a rule of this gateway's."""
    issues: list[Issue] = []
    criteria = _criteria(resource.get("criteria"), issues)
    channel = resource.get("channel") or {}
    endpoint = _endpoint(channel, list(bases), issues)
    payload = _payload(channel.get("payload"), issues)
    headers = _headers(channel.get("header") or [], issues)
    status = _status(resource.get("status"), current, issues)
    end = _end(resource.get("end"))
    if issues or criteria is None or endpoint is None or status is None:
        raise ContentError(issues, business_rule=True)
    content = {key: value for key, value in resource.items() if key not in ("status", "error")}
    return Terms(criteria, endpoint, payload, headers, status, end, content)


def read_criteria(text: str) -> Criteria:
    """Criteria as stored (checked when taken); ValueError if they no longer read."""
    issues: list[Issue] = []
    criteria = _criteria(text, issues)
    if criteria is None:
        raise ValueError("not a subscription's criteria")
    return criteria


def _criteria(value: Any, issues: list[Issue]) -> Criteria | None:
    where = f"{RESOURCE_TYPE}.criteria"
    if not isinstance(value, str) or len(value) > MAX_CRITERIA_LENGTH:
        issues.append(
            _rule(
                f"{where} must be a search of at most {MAX_CRITERIA_LENGTH} characters, as "
                "Type?parameters.",
                where,
            )
        )
        return None
    resource_type, _, query = value.partition("?")
    if resource_type not in SUBSCRIBABLE_TYPES:
        kind = "this" if _TYPE_NAME.fullmatch(resource_type) else "a"
        issues.append(
            _rule(
                f"{where} must name {kind} resource type the gateway notifies about, as a "
                f"relative search (Type?parameters): one of {', '.join(SUBSCRIBABLE_TYPES)}.",
                where,
            )
        )
        return None
    params = tuple(parse_qsl(query, keep_blank_values=True))
    shaping = sorted({name.partition(":")[0] for name, _ in params} & _NOT_FILTERS)
    if shaping:
        issues.append(
            _rule(
                f"{where} chooses resources; {', '.join(shaping)} shape a page of search "
                "results and have no place in it.",
                where,
            )
        )
        return None
    criteria = Criteria(resource_type, params)
    try:
        criteria.query()
    except (SearchRefused, FormatNotServed) as refused:
        issues.append(
            _rule(
                f"{where} must be a search this server supports for {resource_type} (see "
                f"/fhir/metadata): {refused.message}",
                where,
            )
        )
        return None
    return criteria


def _endpoint(channel: Mapping[str, Any], bases: Sequence[str], issues: list[Issue]) -> str | None:
    kind = channel.get("type")
    if kind != REST_HOOK:
        where = f"{RESOURCE_TYPE}.channel.type"
        issues.append(
            _rule(f"{where} must be {REST_HOOK}: the only channel this gateway sends on.", where)
        )
        return None
    where = f"{RESOURCE_TYPE}.channel.endpoint"
    endpoint = channel.get("endpoint")
    if not isinstance(endpoint, str):
        issues.append(_rule(f"{where} is required: the URL to notify.", where))
        return None
    if not bases:
        issues.append(
            _rule(
                f"{where}: no URL is configured for your organisation's notifications "
                "(endpoints.yaml base_url or notification_urls); ask the gateway's operator.",
                where,
            )
        )
        return None
    if not endpoint_allowed(endpoint, bases):
        issues.append(
            _rule(
                f"{where} must be an http(s) URL under one configured for your organisation "
                f"(endpoints.yaml base_url or notification_urls), at most {MAX_URL_LENGTH} "
                "characters, without user information, query, fragment, dot segments or "
                "encoded separators.",
                where,
            )
        )
        return None
    return endpoint


def _payload(value: Any, issues: list[Issue]) -> str | None:
    if value is None:
        return None
    if value == FULL_RESOURCE:
        return FULL_RESOURCE
    where = f"{RESOURCE_TYPE}.channel.payload"
    issues.append(
        _rule(
            f"{where} must be absent (a notification with no body) or {FULL_RESOURCE} "
            "(the resource itself).",
            where,
        )
    )
    return None


def _headers(values: Sequence[Any], issues: list[Issue]) -> tuple[tuple[str, str], ...]:
    if len(values) > MAX_HEADERS:
        where = f"{RESOURCE_TYPE}.channel.header"
        issues.append(_rule(f"{where}: at most {MAX_HEADERS} headers.", where))
        return ()
    headers: list[tuple[str, str]] = []
    for index, value in enumerate(values):
        where = f"{RESOURCE_TYPE}.channel.header[{index}]"
        match = _HEADER.fullmatch(value) if isinstance(value, str) else None
        if match is None or len(value) > MAX_HEADER_LENGTH:
            issues.append(
                _rule(
                    f"{where} must be one HTTP header, 'Name: value', in printable ASCII, "
                    f"at most {MAX_HEADER_LENGTH} characters.",
                    where,
                )
            )
            continue
        name = match["name"]
        if name.lower() in RESERVED_HEADERS:
            issues.append(
                _rule(
                    f"{where} names a header the gateway sets itself; authentication to "
                    "your endpoint is configured for it (endpoints.yaml), not sent here.",
                    where,
                )
            )
            continue
        headers.append((name, match["value"].rstrip()))
    return tuple(headers)


def _status(value: Any, current: Status | None, issues: list[Issue]) -> Status | None:
    asked = Status(value) if value in tuple(Status) else None
    if asked in (Status.REQUESTED, Status.ACTIVE):
        return Status.ACTIVE
    if asked is Status.OFF or (asked is Status.ERROR and current is Status.ERROR):
        return asked
    where = f"{RESOURCE_TYPE}.status"
    if asked is None:
        issues.append(_rule(f"{where} must be requested, active or off.", where))
        return None
    issues.append(
        _rule(
            f"{where}: the gateway sets error, when notifications keep failing; ask for "
            "requested (or active), or off.",
            where,
        )
    )
    return None


def _end(value: Any) -> datetime | None:
    span = parse_date_range(value) if isinstance(value, str) else None
    return None if span is None else span.low


def _rule(message: str, where: str) -> Issue:
    return Issue(IssueCode.BUSINESS_RULE, message, where)
