"""Bundles for search and history, written around each resource's stored JSON text.

Stored resources are already serialised; splicing that text into the Bundle avoids
parsing and re-serialising every entry on the hot search path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from core.fhir.dates import format_instant
from core.search.query import CURSOR_PARAMETER, SearchQuery
from gateway.fhir.search.pages import PAGE_PARAMETER
from gateway.fhir.store import SearchPage, StoredResource
from gateway.platform.clock import new_id
from gateway.web.responses import dumps


def searchset(
    base: str,
    query: SearchQuery,
    page: SearchPage,
    searched_at: datetime,
    *,
    page_reference: str | None = None,
) -> str:
    """`page_reference`: a POST search's, which its links carry instead of its parameters
    (they would put what was searched for, an NHS number, into a URL)."""
    self_params = (
        [(PAGE_PARAMETER, page_reference)] if page_reference is not None else list(query.applied)
    )
    links = [_link("self", base, query.resource_type, self_params, query.cursor_token)]
    if page.next_cursor is not None:
        links.append(
            _link("next", base, query.resource_type, self_params, page.next_cursor.encode())
        )
    if page.previous_cursor is not None:
        links.append(
            _link("previous", base, query.resource_type, self_params, page.previous_cursor.encode())
        )
    header: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        # Pollers pass this back as _lastUpdated=gt... on their next poll.
        "meta": {"lastUpdated": format_instant(searched_at)},
        "type": "searchset",
    }
    if page.total is not None:
        header["total"] = page.total
    header["link"] = links
    entries = [(_entry(base, record, "match"), record.content) for record in page.matches]
    entries += [(_entry(base, record, "include"), record.content) for record in page.included]
    return _with_entries(header, entries)


def history(
    base: str,
    resource_type: str,
    resource_id: str,
    records: Sequence[StoredResource],
    total: int,
    next_below: int | None,
    generated_at: datetime,
) -> str:
    path = f"{base}/{resource_type}/{resource_id}/_history"
    links = [{"relation": "self", "url": path}]
    if next_below is not None:
        links.append({"relation": "next", "url": f"{path}?{urlencode({'_below': next_below})}"})
    header: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": new_id(),
        "meta": {"lastUpdated": format_instant(generated_at)},
        "type": "history",
        "total": total,
        "link": links,
    }
    entries = []
    for record in records:
        method = "POST" if record.version_id == 1 else "PUT"
        url = resource_type if method == "POST" else f"{resource_type}/{resource_id}"
        entry = {
            "fullUrl": f"{base}/{resource_type}/{resource_id}",
            "request": {"method": method, "url": url},
            "response": {
                "status": "201 Created" if method == "POST" else "200 OK",
                "etag": f'W/"{record.version_id}"',
                "lastModified": format_instant(record.last_updated),
            },
        }
        entries.append((entry, record.content))
    return _with_entries(header, entries)


def _entry(base: str, record: StoredResource, mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{record.resource_type}/{record.id}",
        "search": {"mode": mode},
    }


def _link(
    relation: str, base: str, resource_type: str, params: list[tuple[str, str]], cursor: str | None
) -> dict[str, str]:
    pairs = params + ([(CURSOR_PARAMETER, cursor)] if cursor else [])
    query = urlencode(pairs)
    return {"relation": relation, "url": f"{base}/{resource_type}" + (f"?{query}" if query else "")}


def _with_entries(header: dict[str, Any], entries: list[tuple[dict[str, Any], str]]) -> str:
    text = dumps(header)
    if not entries:
        return text
    rendered = ",".join(
        dumps(entry)[:-1] + ',"resource":' + content + "}" for entry, content in entries
    )
    return text[:-1] + ',"entry":[' + rendered + "]}"
