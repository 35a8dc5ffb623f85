"""The Subscription interactions on behalf of a caller: create, read, update, delete and
search, each in the request's transaction.

A Subscription belongs to the organisation whose client created it: only that
organisation's clients read, change, delete or list it; anyone else's is answered
exactly as a missing one (404), and the attempt is in the access log. A Subscription is
a standing search: creating or changing one needs, besides the Subscription scope, the
scope to search its criteria's type (and to read it, for notifications that carry the
resource). Its channel.endpoint must be under a URL configured for the organisation
(core.subscriptions.endpoints). The gateway sets status: active once taken, error when
notifications keep failing (gateway.subscriptions.sending); the client may ask for
requested (or active) again, or off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from core.fhir.issues import ContentError, Issue, IssueCode
from core.fhir.validation import check_safe_content
from core.search.query import SearchQuery
from core.subscriptions.request import (
    FULL_RESOURCE,
    RESOURCE_TYPE,
    Status,
    Terms,
    read_subscription,
    valid_structure,
)
from core.subscriptions.resource import served
from gateway.access_log.trail import NOT_PARTY, AccessTrail
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.configuration.endpoints import Endpoints
from gateway.exchange.outbox import OutboxStore
from gateway.fhir import schema_check
from gateway.fhir.service import require_body_id
from gateway.fhir.store import SearchPage, StoredResource
from gateway.platform.clock import Clock, IdSource, new_id, utc_now
from gateway.platform.errors import (
    Conflict,
    InsufficientScope,
    InvalidContent,
    InvalidSearch,
    NotFound,
    PreconditionFailed,
)
from gateway.subscriptions.store import StoredSubscription, SubscriptionStore

# Re-exported: what the routes take from here.
__all__ = ["MAX_PER_ORGANISATION", "StoredSubscription", "SubscriptionService", "as_record"]

# Each organisation's Subscriptions cost a search on every write to their types that
# names it: a bound keeps that cost, and a client's mistakes, in check.
MAX_PER_ORGANISATION = 20
_NOT_FOUND = "No Subscription has that id."


class SubscriptionService:
    def __init__(
        self,
        store: SubscriptionStore,
        outbox: OutboxStore,
        caller: Caller,
        endpoints: Endpoints,
        *,
        trail: AccessTrail | None = None,
        clock: Clock = utc_now,
        new_id: IdSource = new_id,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._caller = caller
        self._endpoints = endpoints
        self._trail = trail
        self._clock = clock
        self._new_id = new_id

    def create(self, body: dict[str, Any]) -> StoredSubscription:
        self.authorise(Interaction.CREATE)
        terms = self._terms(body, current=None)
        if self._store.count_owned_by(self._caller.ods_code) >= MAX_PER_ORGANISATION:
            where = RESOURCE_TYPE
            raise InvalidContent(
                [
                    Issue(
                        IssueCode.BUSINESS_RULE,
                        f"An organisation may hold at most {MAX_PER_ORGANISATION} "
                        "Subscriptions: delete one it no longer needs first.",
                        where,
                    )
                ],
                business_rule=True,
            )
        subscription_id = self._new_id()
        now = self._clock()
        subscription = _version(
            terms,
            subscription_id=subscription_id,
            owner=self._caller.ods_code,
            owner_client=self._caller.client_id,
            version_id=1,
            moment=now,
            error=None,
        )
        self._store.insert(subscription)
        self._saw(subscription)
        return subscription

    def read(self, subscription_id: str) -> StoredSubscription:
        self.authorise(Interaction.READ)
        subscription = self._own(subscription_id)
        self._saw(subscription)
        return subscription

    def update(
        self, subscription_id: str, body: dict[str, Any], *, if_match: int | None = None
    ) -> StoredSubscription:
        require_body_id(RESOURCE_TYPE, subscription_id, body)
        self.authorise(Interaction.UPDATE)
        current = self._own(subscription_id)
        terms = self._terms(body, current=current.status)
        if if_match is not None and if_match != current.version_id:
            raise PreconditionFailed(
                f"If-Match names version {if_match}; the current version is {current.version_id}."
            )
        moment = max(self._clock(), current.last_updated + timedelta(microseconds=1))
        kept_error = current.error if terms.status is Status.ERROR else None
        subscription = _version(
            terms,
            subscription_id=subscription_id,
            owner=current.owner,
            owner_client=self._caller.client_id,
            version_id=current.version_id + 1,
            moment=moment,
            error=kept_error,
        )
        if terms.status is Status.ERROR:
            subscription = replace(subscription, failures=current.failures)
        if not self._store.replace(subscription, current.version_id):
            # The gateway (a notification failing) or another request wrote first.
            if if_match is not None:
                raise PreconditionFailed("The Subscription changed while this update was applied.")
            raise Conflict("The Subscription changed while this update was applied; retry.")
        if subscription.status is not Status.ACTIVE:
            self._outbox.stop_pending(
                subscription_id, moment, f"stopped: the subscription is {subscription.status}"
            )
        self._saw(subscription)
        return subscription

    def delete(self, subscription_id: str) -> None:
        self.authorise(Interaction.DELETE)
        current = self._own(subscription_id)
        if not self._store.delete(subscription_id, current.version_id):
            raise Conflict("The Subscription changed while it was being deleted; retry.")
        self._outbox.stop_pending(
            subscription_id, self._clock(), "stopped: the subscription was deleted"
        )
        self._saw(current)

    def search(self, params: Sequence[tuple[str, str]]) -> tuple[SearchQuery, SearchPage]:
        """The caller's organisation's Subscriptions, newest first: all, or by `status`
        and `_id` (comma for any of; a repeated parameter, all of), `_count` of them at
        most (MAX_PER_ORGANISATION bounds them: one page holds them all). As a search's
        query and page, for gateway.fhir.bundles."""
        self.authorise(Interaction.SEARCH)
        statuses: set[str] | None = None
        ids: set[str] | None = None
        count = MAX_PER_ORGANISATION
        for name, value in params:
            values = set(value.split(","))
            if name == "status" and all(values):
                statuses = values if statuses is None else statuses & values
            elif name == "_id" and all(values):
                ids = values if ids is None else ids & values
            elif name == "_count" and value.isascii() and value.isdecimal():
                count = min(int(value[:6]), MAX_PER_ORGANISATION)
            elif name in ("status", "_id", "_count"):
                raise InvalidSearch(f"{name} takes a value.", expression=name)
            elif name != "_format":
                raise InvalidSearch(
                    "Subscriptions are searched by status and _id only.",
                    expression=name if name.isascii() and name.isidentifier() else None,
                )
        known = {status.value for status in Status}
        found = []
        # A status no Subscription can have matches none.
        if statuses is None or statuses & known:
            owned = self._store.owned_by(
                self._caller.ods_code, statuses=(statuses or set()) & known
            )
            found = [s for s in owned if ids is None or s.id in ids]
        shown = found[:count]
        for subscription in shown:
            self._saw(subscription)
        applied = tuple((name, value) for name, value in params if name != "_format")
        query = SearchQuery(RESOURCE_TYPE, (), count=count, applied=applied)
        page = SearchPage([as_record(s) for s in shown], [], len(found), None, None)
        return query, page

    def authorise(self, interaction: Interaction) -> None:
        if not self._caller.may(RESOURCE_TYPE, interaction):
            raise InsufficientScope(
                f"The access token does not grant this on {RESOURCE_TYPE}: it needs the "
                f"scope system/{RESOURCE_TYPE}.{interaction.value}."
            )

    def _terms(self, body: dict[str, Any], *, current: Status | None) -> Terms:
        """The Subscription checked as HL7's models and schema, the gateway's content
        rules and its own rules say (400 or 422, nothing stored); then the caller's
        scopes on what it would be notified of (403)."""
        endpoint = self._endpoints.notification_endpoint(self._caller.ods_code)
        bases = endpoint.notification_bases if endpoint is not None else ()
        try:
            resource = valid_structure(body)
            problems = schema_check.schema_issues(resource, RESOURCE_TYPE)
            if problems:
                raise ContentError(problems)
            check_safe_content(resource, RESOURCE_TYPE)
            terms = read_subscription(resource, bases=bases, current=current)
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=error.business_rule) from None
        watched = terms.criteria.resource_type
        needed = [Interaction.SEARCH] + (
            [Interaction.READ] if terms.payload == FULL_RESOURCE else []
        )
        for interaction in needed:
            if not self._caller.may(watched, interaction):
                raise InsufficientScope(
                    "A Subscription is a standing search: its criteria need the scope "
                    f"system/{watched}.{interaction.value}"
                    + (
                        " (its notifications carry the resource)."
                        if interaction is Interaction.READ
                        else "."
                    )
                )
        return terms

    def _own(self, subscription_id: str) -> StoredSubscription:
        """The caller's organisation's Subscription; another's is answered as missing
        (and the access log says whose it was)."""
        subscription = self._store.get(subscription_id)
        if subscription is None or subscription.owner != self._caller.ods_code:
            if subscription is not None and self._trail is not None:
                self._trail.refused(as_record(subscription), NOT_PARTY)
            raise NotFound(_NOT_FOUND)
        return subscription

    def _saw(self, subscription: StoredSubscription) -> None:
        if self._trail is not None:
            self._trail.saw(as_record(subscription))


def as_record(subscription: StoredSubscription) -> StoredResource:
    """The Subscription as the FHIR responses and the access log take a resource."""
    return StoredResource(
        RESOURCE_TYPE,
        subscription.id,
        subscription.version_id,
        subscription.last_updated,
        subscription.content,
    )


def _version(
    terms: Terms,
    *,
    subscription_id: str,
    owner: str,
    owner_client: str,
    version_id: int,
    moment: datetime,
    error: str | None,
) -> StoredSubscription:
    criteria = terms.criteria
    return StoredSubscription(
        id=subscription_id,
        owner=owner,
        owner_client=owner_client,
        version_id=version_id,
        last_updated=moment,
        status=terms.status,
        resource_type=criteria.resource_type,
        criteria=str(terms.content["criteria"]),
        endpoint=terms.endpoint,
        payload=terms.payload,
        headers=terms.headers,
        end_at=terms.end,
        failures=0,
        error=error,
        content=served(
            terms.content,
            subscription_id=subscription_id,
            version_id=version_id,
            last_updated=moment,
            status=terms.status,
            error=error,
        ),
    )
