"""FHIR search over the store: criteria, visibility and sharing as conditions of one
query, keyset paging, and _include.

Every method runs inside the caller's transaction, like the rest of the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    any_,
    bindparam,
    exists,
    func,
    not_,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY

from core.fhir.parties import DIRECTORY_TYPES
from core.search.query import Cursor, Include, LastUpdatedCriterion, SearchQuery
from gateway.fhir.records import StoredResource, record_from_row
from gateway.fhir.search.criteria import criterion_condition, party_condition
from gateway.platform.schema import resources, search_index

# How many rounds of _include:iterate are followed; the handover graph is two deep.
MAX_INCLUDE_ROUNDS = 3
# The most rows one step of a consent-filtered page reads.
_MAX_READ_STEP = 800


@dataclass(frozen=True, slots=True)
class SharingFilter:
    """What one reader may be shown of other organisations' data, in two steps: the
    agreements (by originating organisation and data category), in SQL; then `admit`,
    the whole decision, for each candidate in page order. Totals count only what `admit`
    would let through, so neither totals nor page links reveal a hidden record."""

    reader: str  # ODS code
    shared: Mapping[str, frozenset[str]]  # originating organisation -> data categories
    admit: Callable[[list[StoredResource]], list[bool]]


@dataclass(frozen=True, slots=True)
class SearchPage:
    matches: list[StoredResource]
    included: list[StoredResource]
    total: int | None
    next_cursor: Cursor | None
    previous_cursor: Cursor | None


class ResourceSearch:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def search(
        self,
        query: SearchQuery,
        *,
        visible_to: str | None = None,
        sharing: SharingFilter | None = None,
    ) -> SearchPage:
        """One page of matches (and their includes) among the resources `visible_to` (an
        ODS code) is party to, and that `sharing` lets through; every resource when both
        are None (the gateway's own work).

        Both are conditions of the search itself, so totals and paging never count what
        the caller may not see.
        """
        window = [c for c in query.criteria if isinstance(c, LastUpdatedCriterion)]
        conditions = [resources.c.resource_type == query.resource_type]
        conditions.extend(
            criterion_condition(query.resource_type, c, window) for c in query.criteria
        )
        if visible_to is not None and query.resource_type not in DIRECTORY_TYPES:
            conditions.append(party_condition(visible_to))
        if sharing is not None and query.resource_type not in DIRECTORY_TYPES:
            dialect = self._connection.dialect.name
            conditions.append(_agreements_condition(sharing, dialect))
        else:
            sharing = None
        total = None
        if query.total:
            total = self._count(conditions, sharing)
        if query.count == 0:
            return SearchPage([], [], total, None, None)
        admit = sharing.admit if sharing is not None else None
        matches, next_cursor, previous_cursor = self._page(query, conditions, admit)
        included = self._included(matches, query.includes, visible_to, sharing)
        return SearchPage(matches, included, total, next_cursor, previous_cursor)

    def _count(self, conditions: list[ColumnElement[bool]], sharing: SharingFilter | None) -> int:
        if sharing is None:
            return int(
                self._connection.execute(
                    select(func.count()).select_from(resources).where(*conditions)
                ).scalar_one()
            )
        # Where the person has recorded no consent, the agreements (already a condition)
        # decide, and SQL counts. Only the rest needs the whole decision, row by row.
        weighed = _needs_consent_check(sharing.reader)
        plain = self._connection.execute(
            select(func.count()).select_from(resources).where(*conditions, not_(weighed))
        ).scalar_one()
        candidates = [
            record_from_row(row)
            for row in self._connection.execute(select(resources).where(*conditions, weighed))
        ]
        return int(plain) + sum(sharing.admit(candidates)) if candidates else int(plain)

    def _page(
        self,
        query: SearchQuery,
        conditions: list[ColumnElement[bool]],
        admit: Callable[[list[StoredResource]], list[bool]] | None,
    ) -> tuple[list[StoredResource], Cursor | None, Cursor | None]:
        cursor = query.cursor
        forward = cursor is None or cursor.direction == "next"
        # Walking backwards from a "prev" cursor reads the page order in reverse.
        descending = query.newest_first == forward
        key = tuple_(resources.c.last_updated, resources.c.id)
        order = (
            (resources.c.last_updated.desc(), resources.c.id.desc())
            if descending
            else (resources.c.last_updated.asc(), resources.c.id.asc())
        )
        wanted = query.count + 1
        position = None if cursor is None else (cursor.last_updated, cursor.resource_id)
        found: list[StoredResource] = []
        size = wanted
        # Read in page order until a page and one more are admitted, or none are left;
        # when consent hid some, read further in larger steps.
        while len(found) < wanted:
            statement = select(resources).where(*conditions)
            if position is not None:
                after = tuple_(*position)
                statement = statement.where(key < after if descending else key > after)
            rows = self._connection.execute(statement.order_by(*order).limit(size)).all()
            batch = [record_from_row(row) for row in rows]
            if admit is not None and batch:
                batch = [record for record, ok in zip(batch, admit(batch), strict=True) if ok]
            found.extend(batch)
            if len(rows) < size:
                break
            position = (rows[-1].last_updated, rows[-1].id)
            size = min(size * 2, _MAX_READ_STEP)
        more = len(found) > query.count
        page = found[: query.count]
        if not forward:
            page.reverse()
        if not page:
            return page, None, None
        first = Cursor(page[0].last_updated, page[0].id, "prev")
        last = Cursor(page[-1].last_updated, page[-1].id, "next")
        if forward:
            return page, last if more else None, first if cursor is not None else None
        return page, last, first if more else None

    def _included(
        self,
        matches: list[StoredResource],
        includes: tuple[Include, ...],
        visible_to: str | None,
        sharing: SharingFilter | None = None,
    ) -> list[StoredResource]:
        seen = {(record.resource_type, record.id) for record in matches}
        included: list[StoredResource] = []
        frontier = matches
        for round_number in range(MAX_INCLUDE_ROUNDS):
            wanted = [inc for inc in includes if inc.iterate or round_number == 0]
            targets: dict[str, set[str]] = {}
            for include in wanted:
                sources = [r.id for r in frontier if r.resource_type == include.source_type]
                for reference in self._references(include, sources):
                    target_type, target_id = reference.split("/", 1)
                    if (target_type, target_id) not in seen:
                        targets.setdefault(target_type, set()).add(target_id)
            found = self._current_many(targets, visible_to)
            seen.update((record.resource_type, record.id) for record in found)
            if sharing is not None and found:
                # An included resource is shared like any other: the same decision.
                decided = sharing.admit(found)
                found = [record for record, ok in zip(found, decided, strict=True) if ok]
            if not found:
                break
            included.extend(found)
            frontier = found
        return included

    def _current_many(
        self, targets: dict[str, set[str]], visible_to: str | None
    ) -> list[StoredResource]:
        found: list[StoredResource] = []
        for resource_type, ids in sorted(targets.items()):
            statement = select(resources).where(
                resources.c.resource_type == resource_type, resources.c.id.in_(ids)
            )
            if visible_to is not None and resource_type not in DIRECTORY_TYPES:
                statement = statement.where(party_condition(visible_to))
            rows = self._connection.execute(statement.order_by(resources.c.id))
            found.extend(record_from_row(row) for row in rows)
        return found

    def _references(self, include: Include, source_ids: list[str]) -> list[str]:
        if not source_ids:
            return []
        statement = select(search_index.c.value).where(
            search_index.c.resource_type == include.source_type,
            search_index.c.param == include.param,
            search_index.c.resource_id.in_(source_ids),
        )
        if include.target_type is not None:
            statement = statement.where(search_index.c.value.startswith(include.target_type + "/"))
        return sorted({value for value in self._connection.execute(statement).scalars() if value})


def _agreements_condition(sharing: SharingFilter, dialect: str) -> ColumnElement[bool]:
    """The reader's own data, or data whose origin and category an agreement covers. An
    unknown origin or category matches neither: such data is never shared.

    Origins are grouped by the categories they may share, one branch per distinct set
    (an agreement's parties share one), rather than one branch per origin: a regional
    agreement names hundreds of organisations.
    """
    groups: dict[frozenset[str], list[str]] = {}
    for origin, categories in sharing.shared.items():
        groups.setdefault(categories, []).append(origin)
    covered = [
        and_(
            _one_of(resources.c.origin, sorted(origins), dialect),
            _one_of(resources.c.data_category, sorted(categories), dialect),
        )
        for categories, origins in sorted(groups.items(), key=lambda group: sorted(group[0]))
    ]
    return or_(resources.c.origin == sharing.reader, *covered)


def _one_of(column: ColumnElement[str], values: list[str], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        # One array parameter: the statement's text, and so its cached compilation and
        # PostgreSQL's planning, does not grow with the number of organisations.
        return column == any_(bindparam(None, values, type_=ARRAY(String(16))))
    return column.in_(values)


def _needs_consent_check(reader: str) -> ColumnElement[bool]:
    """Another organisation's data about a person who has recorded a Consent, or with no
    person recorded (data about nobody, or about a person never established, which the
    whole decision never shares)."""
    consents = resources.alias("consents")
    return and_(
        resources.c.origin != reader,
        or_(
            resources.c.patient.is_(None),
            exists().where(
                consents.c.resource_type == "Consent",
                consents.c.patient == resources.c.patient,
            ),
        ),
    )
