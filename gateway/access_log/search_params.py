"""Parsing the IG search's parameters (and the patient access report's) strictly: an
unknown or malformed parameter is a 400 naming the parameter, never quoting its value."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from core.access_log.event import AuditOutcome
from core.fhir.dates import parse_date_range
from core.fhir.identifiers import (
    NHS_NUMBER_SYSTEM,
    is_local_system,
    is_valid_local_value,
    is_valid_nhs_number,
)
from core.fhir.patients import local_fact
from core.search.query import CURSOR_PARAMETER, PagingLimits
from gateway.access_log.search import AuditQuery
from gateway.platform.errors import BadRequest, InvalidSearch

_TEXT = re.compile(r"[A-Za-z0-9\-._:/|@]{1,128}")
_SIZE = re.compile(r"[1-9][0-9]{0,17}")
_REFERENCE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
_ONE_MICROSECOND = timedelta(microseconds=1)
_DATE_PREFIXES = ("ge", "gt", "le", "lt", "eq")
_ACTIONS = frozenset("CRUDE")
_OUTCOMES = {str(int(outcome)): outcome for outcome in AuditOutcome}
SEARCH_PARAMETERS = frozenset(
    {
        "patient",
        "agent",
        "entity",
        "date",
        "outcome",
        "subtype",
        "action",
        "purpose",
        "_count",
        CURSOR_PARAMETER,
    }
)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    query: AuditQuery
    format: Literal["csv", "ndjson"]


def parse_audit_query(params: list[tuple[str, str]], paging: PagingLimits) -> AuditQuery:
    query = AuditQuery(count=paging.default_count)
    seen: set[str] = set()
    for name, value in params:
        if name not in SEARCH_PARAMETERS:
            raise InvalidSearch(
                "AuditEvent search takes patient, agent, entity, date, outcome, subtype, "
                "action, purpose, _count and paging links; another parameter was sent.",
            )
        if name != "date" and name in seen:
            raise InvalidSearch(f"{name} may be given once.", expression=name)
        seen.add(name)
        query = _with(query, name, value, paging)
    return query


def parse_report_query(params: list[tuple[str, str]]) -> ReportRequest:
    """patient (required), date (a period, repeatable with prefixes), format csv|ndjson."""
    query, found_format = AuditQuery(), "csv"
    for name, value in params:
        if name == "format":
            if value not in ("csv", "ndjson"):
                raise BadRequest("format is csv or ndjson.", expression="format")
            found_format = value
        elif name in ("patient", "date"):
            query = _with(query, name, value, PagingLimits(1, 1))
        else:
            raise BadRequest(
                "The patient access report takes patient, date and format.", expression=name
            )
    if query.patient is None:
        raise BadRequest(
            "patient (an NHS number, or a local identifier) is required.", expression="patient"
        )
    return ReportRequest(query, "ndjson" if found_format == "ndjson" else "csv")


def self_params(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in params if name != CURSOR_PARAMETER]


def encode_cursor(before: tuple[datetime, int]) -> str:
    recorded, seq = before
    raw = f"{recorded.isoformat()}|{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_text(value: str | None, name: str) -> str:
    if value is None or not _TEXT.fullmatch(value):
        raise BadRequest(f"{name} is required: letters, digits and . _ : / | @ -.", expression=name)
    return value


def parse_size(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not _SIZE.fullmatch(value):
        raise BadRequest(f"{name} is a tree size: a whole number from 1.", expression=name)
    return int(value)


def parse_required_size(value: str | None, name: str) -> int:
    size = parse_size(value, name)
    if size is None:
        raise BadRequest(f"{name} (a tree size) is required.", expression=name)
    return size


def _with(query: AuditQuery, name: str, value: str, paging: PagingLimits) -> AuditQuery:
    if name == "patient":
        return replace(query, patient=_patient(value))
    if name == "agent":
        return replace(query, agent=parse_text(value, name))
    if name == "entity":
        if not _REFERENCE.fullmatch(value):
            raise InvalidSearch("entity is a reference: Type/id.", expression=name)
        return replace(query, entity=value)
    if name == "date":
        return _with_date(query, value)
    if name == "outcome":
        if value not in _OUTCOMES:
            raise InvalidSearch("outcome is 0, 4 or 8.", expression=name)
        return replace(query, outcome=_OUTCOMES[value])
    if name == "action":
        if value not in _ACTIONS:
            raise InvalidSearch("action is one of C, R, U, D, E.", expression=name)
        return replace(query, action=value)
    if name == "subtype":
        return replace(query, subtype=parse_text(value, name).rpartition("|")[2])
    if name == "purpose":
        return replace(query, purpose=parse_text(value, name).rpartition("|")[2])
    if name == "_count":
        if not _SIZE.fullmatch(value) or len(value) > 6:
            raise InvalidSearch("_count is a whole number from 1.", expression=name)
        return replace(query, count=min(int(value), paging.max_count))
    return replace(query, before=_decode_cursor(value))


def _patient(value: str) -> str:
    """The person's identifier as the log records it: an NHS number (bare, or as
    NHS-system|number), or a local identifier as system|value."""
    system, bar, rest = value.partition("|")
    if not bar or system in ("", NHS_NUMBER_SYSTEM):
        if is_valid_nhs_number(rest if bar else value):
            return rest if bar else value
    elif is_local_system(system) and is_valid_local_value(rest):
        return local_fact(system, rest)
    raise InvalidSearch(
        f"patient is an NHS number (optionally {NHS_NUMBER_SYSTEM}|<number>) with a valid "
        "check digit, or, for a person with no NHS number yet, a local identifier as "
        "<system>|<value>.",
        expression="patient",
    )


def _with_date(query: AuditQuery, value: str) -> AuditQuery:
    prefix = value[:2] if value[:2] in _DATE_PREFIXES else "eq"
    span = parse_date_range(value[2:] if value[:2] in _DATE_PREFIXES else value)
    if span is None:
        raise InvalidSearch(
            "date is a FHIR date, dateTime or instant, optionally prefixed ge, gt, le, lt or eq.",
            expression="date",
        )
    low, high = query.recorded_from, query.recorded_to
    if prefix in ("ge", "eq"):
        low = span.low if low is None else max(low, span.low)
    if prefix == "gt":
        after = span.high + _ONE_MICROSECOND
        low = after if low is None else max(low, after)
    if prefix in ("le", "eq"):
        high = span.high if high is None else min(high, span.high)
    if prefix == "lt":
        before = span.low - _ONE_MICROSECOND
        high = before if high is None else min(high, before)
    return replace(query, recorded_from=low, recorded_to=high)


def _decode_cursor(value: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        recorded, seq = raw.split("|")
        moment = datetime.fromisoformat(recorded)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidSearch(
            "_cursor is not one this server issued: follow the Bundle's links.",
            expression=CURSOR_PARAMETER,
        ) from None
