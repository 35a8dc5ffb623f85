"""The FHIR REST interactions: validate, version, index and store; read, history, search."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from gateway import fhir_schema
from gateway.errors import (
    BadRequest,
    Conflict,
    InvalidContent,
    InvalidHeader,
    InvalidSearch,
    MultipleMatches,
    NotFound,
    PreconditionFailed,
)
from gateway.search.dates import format_instant
from gateway.search.indexing import index_rows
from gateway.search.query import PagingLimits, SearchQuery, parse_search
from gateway.store.resources import ResourceStore, SearchPage, StoredResource
from mappings.issues import ContentError
from mappings.resource_validation import check_uk_core, validate_structure

Clock = Callable[[], datetime]
# Version ids are ASCII digits that fit every database's integer column.
_VERSION_ID = re.compile(r"[1-9][0-9]{0,8}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_resource_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class CreateOutcome:
    record: StoredResource
    # False when a conditional create found the resource already there.
    created: bool


@dataclass(frozen=True, slots=True)
class HistoryPage:
    records: list[StoredResource]
    total: int
    # Pass as `below` for the next (older) page; None on the last page.
    next_below: int | None


class ResourceService:
    def __init__(
        self,
        store: ResourceStore,
        limits: PagingLimits,
        *,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_resource_id,
    ) -> None:
        self._store = store
        self._limits = limits
        self._clock = clock
        self._new_id = new_id

    def create(
        self, resource_type: str, body: dict[str, Any], *, if_none_exist: str | None = None
    ) -> CreateOutcome:
        resource = validated(resource_type, body)
        if if_none_exist is not None:
            existing = self._match_for_conditional_create(resource_type, if_none_exist)
            if existing is not None:
                return CreateOutcome(existing, created=False)
        record = _versioned(resource_type, self._new_id(), 1, self._clock(), resource)
        self._store.insert(record, index_rows(resource_type, resource))
        return CreateOutcome(record, created=True)

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        record = self._store.current(resource_type, resource_id)
        if record is None:
            # The id is not repeated: a URL is client input and could carry anything.
            raise NotFound(f"No {resource_type} has that id.")
        return record

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> StoredResource:
        record = (
            self._store.version(resource_type, resource_id, int(version_id))
            if _VERSION_ID.fullmatch(version_id)
            else None
        )
        if record is None:
            raise NotFound(f"No {resource_type} has that id and version.")
        return record

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        if_match: int | None = None,
    ) -> StoredResource:
        body_id = body.get("id")
        if body_id != resource_id:
            raise BadRequest(
                "The resource id must be present and equal the id in the URL.",
                expression=f"{resource_type}.id",
            )
        resource = validated(resource_type, body)
        current = self.read(resource_type, resource_id)
        if if_match is not None and if_match != current.version_id:
            raise PreconditionFailed(
                f"If-Match names version {if_match}; the current version is {current.version_id}."
            )
        # A version never predates the one it replaces, even if this process's clock is
        # behind the one that wrote it: pollers rely on _lastUpdated moving forward.
        moment = max(self._clock(), current.last_updated + timedelta(microseconds=1))
        record = _versioned(resource_type, resource_id, current.version_id + 1, moment, resource)
        if not self._store.replace(record, current.version_id, index_rows(resource_type, resource)):
            # Another request wrote a new version between our read and our write.
            if if_match is not None:
                raise PreconditionFailed("The resource changed while this update was applied.")
            raise Conflict("The resource changed while this update was applied; retry.")
        return record

    def history(
        self, resource_type: str, resource_id: str, *, count: int | None, below: int | None
    ) -> HistoryPage:
        current = self.read(resource_type, resource_id)
        size = min(count or self._limits.default_count, self._limits.max_count)
        records = self._store.versions(resource_type, resource_id, count=size, below=below)
        oldest = records[-1].version_id if records else 1
        return HistoryPage(records, current.version_id, oldest if oldest > 1 else None)

    def search(self, query: SearchQuery) -> SearchPage:
        return self._store.search(query)

    def _match_for_conditional_create(
        self, resource_type: str, if_none_exist: str
    ) -> StoredResource | None:
        params = parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True)
        try:
            query = parse_search(resource_type, params, PagingLimits(2, 2))
        except InvalidSearch:
            raise InvalidHeader(
                "If-None-Exist must be a search this server supports for "
                f"{resource_type} (see /fhir/metadata), such as identifier=system|value.",
                expression="If-None-Exist",
            ) from None
        if not query.criteria:
            raise InvalidHeader(
                "If-None-Exist must name at least one search parameter.",
                expression="If-None-Exist",
            )
        # Two identical conditional creates at once must not both create.
        self._store.serialise_on(f"conditional-create:{resource_type}?{sorted(query.applied)}")
        page = self._store.search(SearchQuery(resource_type, query.criteria, count=2, total=False))
        if len(page.matches) > 1:
            raise MultipleMatches("If-None-Exist matches more than one resource.")
        return page.matches[0] if page.matches else None


def validated(resource_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """The resource as it will be stored, after every check; InvalidContent otherwise.

    Order: the R4 models (structure and datatypes), HL7's R4 JSON schema (required code
    bindings, the 4.0.1 wire format), then the UK Core identifier rules.
    """
    try:
        resource = validate_structure(body, resource_type)
        schema_problems = fhir_schema.schema_issues(resource, resource_type)
        if schema_problems:
            raise ContentError(schema_problems)
        check_uk_core(resource, resource_type)
    except ContentError as error:
        raise InvalidContent(error.issues, business_rule=error.business_rule) from None
    return resource


def _versioned(
    resource_type: str,
    resource_id: str,
    version_id: int,
    moment: datetime,
    resource: Mapping[str, Any],
) -> StoredResource:
    meta = dict(resource.get("meta", {}))
    meta.update(versionId=str(version_id), lastUpdated=format_instant(moment))
    content = {"resourceType": resource_type, "id": resource_id, "meta": meta}
    content.update((key, value) for key, value in resource.items() if key not in content)
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return StoredResource(resource_type, resource_id, version_id, moment, text)
