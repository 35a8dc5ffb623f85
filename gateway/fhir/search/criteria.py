"""FHIR search criteria as SQL conditions on the resources table and its search index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true

from core.fhir.dates import DateRange
from core.search.indexing import IDENTIFIER_MODIFIER
from core.search.query import (
    Criterion,
    DateCriterion,
    DateValue,
    IdCriterion,
    LastUpdatedCriterion,
    Prefix,
    ReferenceCriterion,
    TokenCriterion,
    TokenValue,
)
from gateway.platform.schema import resource_parties, resources, search_index


def criterion_condition(
    resource_type: str, criterion: Criterion, window: list[LastUpdatedCriterion]
) -> ColumnElement[bool]:
    if isinstance(criterion, IdCriterion):
        return resources.c.id.in_(criterion.ids)
    if isinstance(criterion, LastUpdatedCriterion):
        return _last_updated_match(resources.c.last_updated, criterion)
    # The _lastUpdated window is repeated on the index rows (which carry the same
    # last_updated), so the index range scan itself is bounded by it.
    matched = and_(search_index.c.param == criterion.param, _index_match(criterion))
    if isinstance(criterion, ReferenceCriterion) and criterion.people:
        matched = or_(matched, _person_match(criterion))
    return resources.c.id.in_(
        select(search_index.c.resource_id).where(
            search_index.c.resource_type == resource_type,
            matched,
            *(_last_updated_match(search_index.c.last_updated, w) for w in window),
        )
    )


def _person_match(criterion: ReferenceCriterion) -> ColumnElement[bool]:
    """Records that named the referenced Patients' people by identifier: every record's
    person is indexed under the parameter's :identifier rows (core.search.indexing)."""
    return and_(
        search_index.c.param == criterion.param + IDENTIFIER_MODIFIER,
        or_(
            *(
                and_(search_index.c.system == system, search_index.c.value == value)
                for system, value in criterion.people
            )
        ),
    )


def _last_updated_match(
    column: ColumnElement[datetime], criterion: LastUpdatedCriterion
) -> ColumnElement[bool]:
    return or_(*(_date_match(column, column, value) for value in criterion.values))


def _index_match(
    criterion: TokenCriterion | ReferenceCriterion | DateCriterion,
) -> ColumnElement[bool]:
    if isinstance(criterion, TokenCriterion):
        return or_(*(_token_match(value) for value in criterion.values))
    if isinstance(criterion, ReferenceCriterion):
        return search_index.c.value.in_(criterion.references)
    return or_(*(_date_match(search_index.c.low, search_index.c.high, v) for v in criterion.values))


def _token_match(value: TokenValue) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if value.code is not None:
        parts.append(search_index.c.value == value.code)
    if value.system_given:
        parts.append(
            search_index.c.system.is_(None)
            if value.system is None
            else search_index.c.system == value.system
        )
    return and_(true(), *parts)


def _date_match(
    low: ColumnElement[datetime], high: ColumnElement[datetime], value: DateValue
) -> ColumnElement[bool]:
    span: DateRange = value.range
    within = and_(low >= span.low, high <= span.high)
    conditions: dict[Prefix, ColumnElement[bool]] = {
        Prefix.EQ: within,
        Prefix.NE: not_(within),
        Prefix.GT: high > span.high,
        Prefix.LT: low < span.low,
        Prefix.GE: or_(high > span.high, within),
        Prefix.LE: or_(low < span.low, within),
        Prefix.SA: low > span.high,
        Prefix.EB: high < span.low,
    }
    return conditions.get(value.prefix, false())


def party_condition(
    ods_code: str,
    resource_type: str | ColumnElement[str] = resources.c.resource_type,
    resource_id: str | ColumnElement[str] = resources.c.id,
) -> ColumnElement[bool]:
    # EXISTS on the primary key: a lookup per candidate row, never the whole list of
    # what an organisation may see.
    return exists().where(
        resource_parties.c.resource_type == resource_type,
        resource_parties.c.resource_id == resource_id,
        resource_parties.c.ods_code == ods_code,
    )
