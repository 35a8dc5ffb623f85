"""Resource persistence: current versions, full history and the search index.

Every method runs inside the caller's transaction (a Connection from Database.write or
Database.read); the caller commits. Optimistic locking is a conditional UPDATE on the
version the caller read, so two writers can never both win.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)

from gateway.search.indexing import IndexRow
from gateway.search.query import (
    Criterion,
    Cursor,
    DateCriterion,
    DateValue,
    IdCriterion,
    Include,
    LastUpdatedCriterion,
    Prefix,
    ReferenceCriterion,
    SearchQuery,
    TokenCriterion,
    TokenValue,
)
from gateway.store.schema import resource_parties, resource_versions, resources, search_index
from mappings.fhir_dates import DateRange
from mappings.identifiers import ODS_ORGANISATION_SYSTEM
from mappings.parties import DIRECTORY_TYPES

# How many rounds of _include:iterate are followed; the handover graph is two deep.
MAX_INCLUDE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource_type: str
    id: str
    version_id: int
    last_updated: datetime
    content: str  # the JSON text as served, meta included
    # The current version's sharing facts (None on a past version read from history).
    facts: SharingFacts | None = None


@dataclass(frozen=True, slots=True)
class SharingFacts:
    """What searches filter on before consent is weighed (see consent.decision)."""

    patient: str | None  # NHS number
    origin: str | None  # ODS code of the organisation the data comes from
    category: str | None  # data category (referral, escalation, risk-flag...)


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
class Party:
    ods_code: str
    basis: str  # requester, performer, sender, recipient, owner, author...


@dataclass(frozen=True, slots=True)
class SearchPage:
    matches: list[StoredResource]
    included: list[StoredResource]
    total: int | None
    next_cursor: Cursor | None
    previous_cursor: Cursor | None


class ResourceStore:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # -- writes ---------------------------------------------------------------------

    def insert(
        self, record: StoredResource, rows: Sequence[IndexRow], parties: Sequence[Party] = ()
    ) -> None:
        self._connection.execute(
            insert(resources).values(
                resource_type=record.resource_type,
                id=record.id,
                version_id=record.version_id,
                last_updated=record.last_updated,
                content=record.content,
                **_facts_columns(record.facts),
            )
        )
        self._add_version(record, "create")
        self._add_index_rows(record, rows)
        self._add_parties(record, parties)

    def replace(
        self,
        record: StoredResource,
        expected_version: int,
        rows: Sequence[IndexRow],
        parties: Sequence[Party] = (),
    ) -> bool:
        """Write a new current version if the stored one is still expected_version."""
        result = self._connection.execute(
            update(resources)
            .where(
                resources.c.resource_type == record.resource_type,
                resources.c.id == record.id,
                resources.c.version_id == expected_version,
            )
            .values(
                version_id=record.version_id,
                last_updated=record.last_updated,
                content=record.content,
                **_facts_columns(record.facts),
            )
        )
        if result.rowcount != 1:
            return False
        self._add_version(record, "update")
        self._connection.execute(
            delete(search_index).where(
                search_index.c.resource_type == record.resource_type,
                search_index.c.resource_id == record.id,
            )
        )
        self._add_index_rows(record, rows)
        self._connection.execute(
            delete(resource_parties).where(
                resource_parties.c.resource_type == record.resource_type,
                resource_parties.c.resource_id == record.id,
            )
        )
        self._add_parties(record, parties)
        return True

    def serialise_on(self, key: str) -> None:
        """Hold a transaction-scoped lock on key (conditional create must not race).

        PostgreSQL: an advisory lock, released at commit. SQLite: write transactions
        already hold the database's single write lock, so nothing more is needed.
        """
        if self._connection.dialect.name == "postgresql":
            digest = hashlib.sha256(key.encode()).digest()
            lock_id = int.from_bytes(digest[:8], "big", signed=True)
            self._connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})

    def _add_version(self, record: StoredResource, method: str) -> None:
        self._connection.execute(
            insert(resource_versions).values(
                resource_type=record.resource_type,
                id=record.id,
                version_id=record.version_id,
                last_updated=record.last_updated,
                method=method,
                content=record.content,
            )
        )

    def _add_index_rows(self, record: StoredResource, rows: Sequence[IndexRow]) -> None:
        if not rows:
            return
        self._connection.execute(
            insert(search_index),
            [
                {
                    "resource_type": record.resource_type,
                    "resource_id": record.id,
                    "param": row.param,
                    "system": row.system,
                    "value": row.value,
                    "low": row.low,
                    "high": row.high,
                    "last_updated": record.last_updated,
                }
                for row in rows
            ],
        )

    def _add_parties(self, record: StoredResource, parties: Sequence[Party]) -> None:
        unique = list(dict.fromkeys(parties))
        if not unique:
            return
        self._connection.execute(
            insert(resource_parties),
            [
                {
                    "resource_type": record.resource_type,
                    "resource_id": record.id,
                    "ods_code": party.ods_code,
                    "basis": party.basis,
                }
                for party in unique
            ],
        )

    # -- reads ----------------------------------------------------------------------

    def parties(self, resource_type: str, resource_id: str) -> list[Party]:
        rows = self._connection.execute(
            select(resource_parties.c.ods_code, resource_parties.c.basis)
            .where(
                resource_parties.c.resource_type == resource_type,
                resource_parties.c.resource_id == resource_id,
            )
            .order_by(resource_parties.c.ods_code, resource_parties.c.basis)
        )
        return [Party(row.ods_code, row.basis) for row in rows]

    def is_party(self, resource_type: str, resource_id: str, ods_code: str) -> bool:
        return self._connection.execute(
            select(_party_condition(ods_code, resource_type, resource_id))
        ).scalar_one()

    def organisation_codes(self, organization_ids: Sequence[str]) -> dict[str, set[str]]:
        """The ODS codes of Organization resources, by id (from their indexed identifier)."""
        if not organization_ids:
            return {}
        rows = self._connection.execute(
            select(search_index.c.resource_id, search_index.c.value).where(
                search_index.c.resource_type == "Organization",
                search_index.c.param == "identifier",
                search_index.c.system == ODS_ORGANISATION_SYSTEM,
                search_index.c.resource_id.in_(sorted(set(organization_ids))),
            )
        )
        codes: dict[str, set[str]] = {}
        for row in rows:
            codes.setdefault(row.resource_id, set()).add(row.value)
        return codes

    def current(self, resource_type: str, resource_id: str) -> StoredResource | None:
        row = self._connection.execute(
            select(resources).where(
                resources.c.resource_type == resource_type, resources.c.id == resource_id
            )
        ).first()
        return None if row is None else _record(row)

    def version(
        self, resource_type: str, resource_id: str, version_id: int
    ) -> StoredResource | None:
        row = self._connection.execute(
            select(resource_versions).where(
                resource_versions.c.resource_type == resource_type,
                resource_versions.c.id == resource_id,
                resource_versions.c.version_id == version_id,
            )
        ).first()
        return None if row is None else _record(row)

    def versions(
        self, resource_type: str, resource_id: str, *, count: int, below: int | None = None
    ) -> list[StoredResource]:
        """Versions newest first, at most count, all older than version `below`."""
        statement = (
            select(resource_versions)
            .where(
                resource_versions.c.resource_type == resource_type,
                resource_versions.c.id == resource_id,
            )
            .order_by(resource_versions.c.version_id.desc())
            .limit(count)
        )
        if below is not None:
            statement = statement.where(resource_versions.c.version_id < below)
        return [_record(row) for row in self._connection.execute(statement)]

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
        conditions.extend(_condition(query.resource_type, c, window) for c in query.criteria)
        if visible_to is not None and query.resource_type not in DIRECTORY_TYPES:
            conditions.append(_party_condition(visible_to))
        if sharing is not None and query.resource_type not in DIRECTORY_TYPES:
            conditions.append(_agreements_condition(sharing))
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

    def consents_for(self, patients: Sequence[str]) -> list[StoredResource]:
        """The current Consent resources about these patients (by NHS number)."""
        if not patients:
            return []
        rows = self._connection.execute(
            select(resources)
            .where(resources.c.resource_type == "Consent", resources.c.patient.in_(set(patients)))
            .order_by(resources.c.id)
        )
        return [_record(row) for row in rows]

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
            _record(row)
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
        # Read in page order until a page and one more are admitted, or none are left.
        while len(found) < wanted:
            statement = select(resources).where(*conditions)
            if position is not None:
                after = tuple_(*position)
                statement = statement.where(key < after if descending else key > after)
            rows = self._connection.execute(statement.order_by(*order).limit(wanted)).all()
            batch = [_record(row) for row in rows]
            if admit is not None and batch:
                batch = [record for record, ok in zip(batch, admit(batch), strict=True) if ok]
            found.extend(batch)
            if len(rows) < wanted:
                break
            position = (rows[-1].last_updated, rows[-1].id)
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
                statement = statement.where(_party_condition(visible_to))
            rows = self._connection.execute(statement.order_by(resources.c.id))
            found.extend(_record(row) for row in rows)
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


def _record(row: object) -> StoredResource:
    mapping = row._mapping  # type: ignore[attr-defined]
    facts = (
        SharingFacts(mapping["patient"], mapping["origin"], mapping["data_category"])
        if "origin" in mapping
        else None
    )
    return StoredResource(
        resource_type=mapping["resource_type"],
        id=mapping["id"],
        version_id=mapping["version_id"],
        last_updated=mapping["last_updated"],
        content=mapping["content"],
        facts=facts,
    )


def _facts_columns(facts: SharingFacts | None) -> dict[str, str | None]:
    if facts is None:
        return {"patient": None, "origin": None, "data_category": None}
    return {"patient": facts.patient, "origin": facts.origin, "data_category": facts.category}


def _agreements_condition(sharing: SharingFilter) -> ColumnElement[bool]:
    """The reader's own data, or data whose origin and category an agreement covers. An
    unknown origin or category matches neither: such data is never shared."""
    covered = [
        and_(resources.c.origin == origin, resources.c.data_category.in_(sorted(categories)))
        for origin, categories in sharing.shared.items()
    ]
    return or_(resources.c.origin == sharing.reader, *covered)


def _needs_consent_check(reader: str) -> ColumnElement[bool]:
    """Another organisation's data about a person who has recorded a Consent."""
    consents = resources.alias("consents")
    return and_(
        resources.c.origin != reader,
        resources.c.patient.is_not(None),
        exists().where(
            consents.c.resource_type == "Consent",
            consents.c.patient == resources.c.patient,
        ),
    )


def _party_condition(
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


def _condition(
    resource_type: str, criterion: Criterion, window: list[LastUpdatedCriterion]
) -> ColumnElement[bool]:
    if isinstance(criterion, IdCriterion):
        return resources.c.id.in_(criterion.ids)
    if isinstance(criterion, LastUpdatedCriterion):
        return _last_updated_match(resources.c.last_updated, criterion)
    # The _lastUpdated window is repeated on the index rows (which carry the same
    # last_updated), so the index range scan itself is bounded by it.
    return resources.c.id.in_(
        select(search_index.c.resource_id).where(
            search_index.c.resource_type == resource_type,
            search_index.c.param == criterion.param,
            _index_match(criterion),
            *(_last_updated_match(search_index.c.last_updated, w) for w in window),
        )
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
