"""Page references for POST _search: its page links name the search by an opaque
reference, never by its parameters, which would put an NHS number back into a URL.

The parameters are kept in the store (so any gateway process sharing it can follow the
link), bound to the client that searched and to the resource type, until they expire.
Following a link runs the search again as a new request: the route authorises it, and the
consent and sharing decisions are made afresh, as for any search. Only a SHA-256 of the
reference is stored, so the store alone cannot be used to follow anyone's links.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from gateway.fhir.search.page_store import SavedSearch, SearchPageStore
from gateway.platform.errors import Gone, NotFound

PAGE_PARAMETER = "_page"
_REFERENCE_BYTES = 24


class PageReferences:
    def __init__(
        self,
        store: SearchPageStore,
        client_id: str,
        *,
        lifetime: timedelta,
        clock: Callable[[], datetime],
        new_reference: Callable[[], str] = lambda: secrets.token_urlsafe(_REFERENCE_BYTES),
    ) -> None:
        self._store = store
        self._client_id = client_id
        self._lifetime = lifetime
        self._clock = clock
        self._new_reference = new_reference

    def remember(self, resource_type: str, parameters: Sequence[tuple[str, str]]) -> str:
        """Keep the search; the reference its page links carry."""
        now = self._clock()
        # Kept as long again after expiry, so that a late follower is told it expired.
        self._store.forget_expired_before(now - self._lifetime)
        reference = self._new_reference()
        self._store.save(
            SavedSearch(
                _digest(reference),
                self._client_id,
                resource_type,
                tuple(parameters),
                now,
                now + self._lifetime,
            )
        )
        return reference

    def recall(self, resource_type: str, reference: str) -> tuple[tuple[str, str], ...]:
        """The parameters of this client's search on this type; 404 for any other
        reference (another client's is answered as unknown), 410 once expired."""
        saved = self._store.find(_digest(reference))
        if saved is None or (saved.client_id, saved.resource_type) != (
            self._client_id,
            resource_type,
        ):
            raise NotFound(
                f"This page reference ({PAGE_PARAMETER}) is not one of this client's "
                f"searches on {resource_type}: page references are bound to the client and "
                "type searched, and removed a while after they expire. Repeat the search "
                f"(POST /fhir/{resource_type}/_search).",
                expression=PAGE_PARAMETER,
            )
        if self._clock() >= saved.expires_at:
            raise Gone(
                f"This page reference ({PAGE_PARAMETER}) has expired: page links can be "
                f"followed for {_duration(self._lifetime)} after the search. Repeat the "
                f"search (POST /fhir/{resource_type}/_search).",
                expression=PAGE_PARAMETER,
            )
        return saved.parameters


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


def _digest(reference: str) -> str:
    return hashlib.sha256(reference.encode("utf-8", errors="replace")).hexdigest()
