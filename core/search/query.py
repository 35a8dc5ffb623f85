"""Parsing a FHIR search query string into criteria the store can run.

Unknown parameters are refused (400) unless the client asked for lenient handling, in
which case they are dropped and the self link shows only what was applied. Names of
unknown parameters are only repeated back when they cannot carry patient data.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from core.fhir.dates import DateRange, parse_date_range
from core.search.errors import FormatNotServed, SearchRefused
from core.search.indexing import IDENTIFIER_MODIFIER, index_text, normalise_reference
from core.search.parameters import (
    ID_PARAMETER,
    LAST_UPDATED_PARAMETER,
    ParamType,
    SearchParameter,
    parameters_for,
)

CURSOR_PARAMETER = "_cursor"
_JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z_:.\-]{0,63}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_DIGITS = re.compile(r"[0-9]+")
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


class Prefix(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    LT = "lt"
    GE = "ge"
    LE = "le"
    SA = "sa"
    EB = "eb"


_PREFIXES = frozenset(prefix.value for prefix in Prefix)


@dataclass(frozen=True, slots=True)
class TokenValue:
    code: str | None
    system: str | None
    # "code" matches any system; "|code" matches only values without one.
    system_given: bool


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: Prefix
    range: DateRange


@dataclass(frozen=True, slots=True)
class TokenCriterion:
    param: str
    values: tuple[TokenValue, ...]  # any of


@dataclass(frozen=True, slots=True)
class ReferenceCriterion:
    param: str
    references: tuple[str, ...]  # any of
    # The people (system, value) the referenced Patients stored here were established to
    # be (the service fills it in): a record that named one by identifier matches too.
    people: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class DateCriterion:
    param: str
    values: tuple[DateValue, ...]  # any of


@dataclass(frozen=True, slots=True)
class IdCriterion:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LastUpdatedCriterion:
    values: tuple[DateValue, ...]


Criterion = TokenCriterion | ReferenceCriterion | DateCriterion | IdCriterion | LastUpdatedCriterion


@dataclass(frozen=True, slots=True)
class Include:
    source_type: str
    param: str
    target_type: str | None
    iterate: bool


@dataclass(frozen=True, slots=True)
class Cursor:
    """A position in the _lastUpdated order: the last (or first) row of a page."""

    last_updated: datetime
    resource_id: str
    # "next": rows after this one in the page order; "prev": rows before it.
    direction: str

    def encode(self) -> str:
        raw = json.dumps(
            {"t": self.last_updated.isoformat(), "i": self.resource_id, "d": self.direction},
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            cursor = cls(datetime.fromisoformat(data["t"]), str(data["i"]), str(data["d"]))
        except (binascii.Error, ValueError, KeyError, TypeError, RecursionError):
            raise SearchRefused(
                "The paging cursor is not valid.", expression=CURSOR_PARAMETER
            ) from None
        if cursor.direction not in ("next", "prev") or cursor.last_updated.tzinfo is None:
            raise SearchRefused("The paging cursor is not valid.", expression=CURSOR_PARAMETER)
        return cursor


@dataclass(frozen=True, slots=True)
class SearchQuery:
    resource_type: str
    criteria: tuple[Criterion, ...]
    count: int
    newest_first: bool = True
    includes: tuple[Include, ...] = ()
    total: bool = True
    cursor: Cursor | None = None
    # The (name, value) pairs that were applied, for the self and paging links.
    applied: tuple[tuple[str, str], ...] = field(default=())

    @property
    def cursor_token(self) -> str | None:
        return self.cursor.encode() if self.cursor is not None else None


@dataclass(frozen=True, slots=True)
class PagingLimits:
    default_count: int
    max_count: int


def parse_search(
    resource_type: str,
    params: Sequence[tuple[str, str]],
    limits: PagingLimits,
    *,
    lenient: bool = False,
) -> SearchQuery:
    known = parameters_for(resource_type)
    criteria: list[Criterion] = []
    includes: list[Include] = []
    applied: list[tuple[str, str]] = []
    count = limits.default_count
    newest_first = True
    total = True
    cursor: Cursor | None = None

    for raw_name, value in params:
        name, _, modifier = raw_name.partition(":")
        if _CONTROL_CHARACTER.search(raw_name + value):
            raise SearchRefused(
                "A search parameter contains a control character.", expression=_expression(raw_name)
            )
        if name == "_count":
            count = _parse_count(value, limits)
        elif name == "_sort":
            newest_first = _parse_sort(value)
        elif name == "_total":
            total = _parse_total(value)
        elif name == "_format":
            if value not in _JSON_FORMATS:
                raise FormatNotServed("Only JSON is served (application/fhir+json).")
            continue
        elif name == CURSOR_PARAMETER:
            cursor = Cursor.decode(value)
            continue
        elif name == "_include":
            includes.append(_parse_include(resource_type, value, modifier))
        elif name == ID_PARAMETER and not modifier:
            criteria.append(IdCriterion(_parse_ids(value)))
        elif name == LAST_UPDATED_PARAMETER and not modifier:
            criteria.append(LastUpdatedCriterion(_parse_dates(name, value)))
        elif name in known:
            criterion = _parse_criterion(known[name], modifier, value, lenient=lenient)
            if criterion is None:
                continue
            criteria.append(criterion)
        elif lenient:
            continue
        else:
            raise SearchRefused(_unknown(raw_name, resource_type), expression=_expression(raw_name))
        applied.append((raw_name, value))

    return SearchQuery(
        resource_type=resource_type,
        criteria=tuple(criteria),
        count=count,
        newest_first=newest_first,
        includes=tuple(includes),
        total=total,
        cursor=cursor,
        applied=tuple(applied),
    )


def _parse_criterion(
    parameter: SearchParameter, modifier: str, value: str, *, lenient: bool
) -> Criterion | None:
    if parameter.type is ParamType.REFERENCE and modifier == "identifier":
        name = parameter.name + IDENTIFIER_MODIFIER
        return TokenCriterion(name, _parse_tokens(name, value))
    if modifier:
        if lenient:
            return None
        raise SearchRefused(
            f"The modifier :{_safe(modifier)} is not supported on {parameter.name}.",
            expression=parameter.name,
        )
    if parameter.type is ParamType.TOKEN:
        return TokenCriterion(parameter.name, _parse_tokens(parameter.name, value))
    if parameter.type is ParamType.REFERENCE:
        return ReferenceCriterion(parameter.name, _parse_references(parameter, value))
    return DateCriterion(parameter.name, _parse_dates(parameter.name, value))


def _split(value: str, pattern: re.Pattern[str]) -> list[str]:
    return [part.replace("\\,", ",").replace("\\|", "|") for part in pattern.split(value)]


def _parse_tokens(name: str, value: str) -> tuple[TokenValue, ...]:
    tokens = []
    for part in _UNESCAPED_COMMA.split(value):
        pieces = _split(part, _UNESCAPED_PIPE)
        if len(pieces) == 1:
            code = pieces[0]
            if not code:
                raise SearchRefused("A token search value is empty.", expression=name)
            tokens.append(TokenValue(index_text(code), None, system_given=False))
        elif len(pieces) == 2:
            system, code = pieces
            if not system and not code:
                raise SearchRefused("A token search value is empty.", expression=name)
            tokens.append(
                TokenValue(
                    index_text(code) if code else None,
                    index_text(system) if system else None,
                    system_given=True,
                )
            )
        else:
            raise SearchRefused(
                "A token search value has more than one unescaped '|'.", expression=name
            )
    return tuple(tokens)


def _parse_references(parameter: SearchParameter, value: str) -> tuple[str, ...]:
    references: list[str] = []
    for part in _split(value, _UNESCAPED_COMMA):
        if _ID.fullmatch(part):
            if not parameter.targets:
                raise SearchRefused(f"Give {parameter.name} as Type/id.", expression=parameter.name)
            references.extend(f"{target}/{part}" for target in parameter.targets)
            continue
        literal = normalise_reference(part)
        if literal is None:
            raise SearchRefused(
                f"{parameter.name} takes a reference (Type/id) or, with :identifier, system|value.",
                expression=parameter.name,
            )
        references.append(literal)
    return tuple(references)


def _parse_dates(name: str, value: str) -> tuple[DateValue, ...]:
    values = []
    for part in value.split(","):
        prefix, text = Prefix.EQ, part
        if part[:2] in _PREFIXES:
            prefix, text = Prefix(part[:2]), part[2:]
        span = parse_date_range(text)
        if span is None:
            raise SearchRefused(
                f"{name} takes a FHIR date or dateTime, optionally with a prefix "
                "(eq, ne, gt, lt, ge, le, sa, eb).",
                expression=name,
            )
        values.append(DateValue(prefix, span))
    return tuple(values)


def _parse_ids(value: str) -> tuple[str, ...]:
    ids = tuple(value.split(","))
    if not all(_ID.fullmatch(item) for item in ids):
        raise SearchRefused("_id takes resource ids.", expression=ID_PARAMETER)
    return ids


def _parse_count(value: str, limits: PagingLimits) -> int:
    # str.isdigit() would pass "²", which int() refuses.
    if not _DIGITS.fullmatch(value):
        raise SearchRefused("_count takes a whole number.", expression="_count")
    # A larger page than the cap is not an error: the server returns fewer (FHIR 3.1.1.5.7).
    # Lengths are compared first: int() refuses more than 4300 digits.
    digits = value.lstrip("0") or "0"
    if len(digits) > len(str(limits.max_count)):
        return limits.max_count
    return min(int(digits), limits.max_count)


def _parse_sort(value: str) -> bool:
    if value == "_lastUpdated":
        return False
    if value == "-_lastUpdated":
        return True
    raise SearchRefused("_sort supports _lastUpdated and -_lastUpdated.", expression="_sort")


def _parse_total(value: str) -> bool:
    if value in ("accurate", "estimate"):
        return True
    if value == "none":
        return False
    raise SearchRefused("_total takes none, estimate or accurate.", expression="_total")


def _parse_include(resource_type: str, value: str, modifier: str) -> Include:
    if modifier not in ("", "iterate"):
        raise SearchRefused("_include supports only the :iterate modifier.", expression="_include")
    parts = value.split(":")
    if len(parts) not in (2, 3):
        raise SearchRefused("_include takes Type:parameter[:TargetType].", expression="_include")
    source_type, name = parts[0], parts[1]
    target_type = parts[2] if len(parts) == 3 else None
    iterate = modifier == "iterate"
    parameter = parameters_for(source_type).get(name)
    if (
        parameter is None
        or parameter.type is not ParamType.REFERENCE
        or (source_type != resource_type and not iterate)
        or (target_type is not None and parameter.targets and target_type not in parameter.targets)
    ):
        raise SearchRefused(
            f"_include={_safe(value)} is not supported for {resource_type}.",
            expression="_include",
        )
    return Include(source_type, name, target_type, iterate)


def _expression(name: str) -> str | None:
    """The parameter's name as an expression, if it cannot be carrying data."""
    return name if _SAFE_NAME.fullmatch(name) else None


def _safe(text: str) -> str:
    """Repeat a client-supplied name only if it cannot be carrying data (no digits)."""
    return text if _SAFE_NAME.fullmatch(text) else "(name withheld)"


def _unknown(name: str, resource_type: str) -> str:
    return (
        f"Unknown search parameter {_safe(name)} for {resource_type}; the "
        "CapabilityStatement lists the supported ones. In a search, Prefer: "
        "handling=lenient has unknown parameters ignored."
    )
