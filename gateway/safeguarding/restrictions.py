"""Restrictions on a person: recorded by the organisation that imposes them, shared with
the organisations involved, reviewed explicitly, never extended silently.

    POST /api/restrictions                 the caller's organisation is the author
    POST /api/restrictions/{id}/reviews    the author only: continue, step-down or end
    GET  /api/restrictions/{id}            the author and the organisations shared with
    GET  /api/restrictions?person=&state=active|overdue-review|ended&longer_than=P28D

Each restriction is a Flag (core.safeguarding.restrictions_fhir) written through the FHIR
write path as the caller (sender, consent and agreement checks, its AuditEvents), with a
row in the restrictions table in the same transaction. A review writes the Flag's next
version, carrying every review so far: the Flag's history is the restriction's history,
one version per review. Reads go through the FHIR read path, so consent and agreements
decide what each caller sees and every read is in the person's access history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from core.codes.restrictions import RESTRICTION_KINDS
from core.fhir.dates import format_instant
from core.fhir.identifiers import is_valid_nhs_number
from core.fhir.issues import ContentError, Issue, IssueCode
from core.safeguarding.picture import ActiveRestriction
from core.safeguarding.restrictions import (
    Restriction,
    RestrictionRules,
    created,
    parse_new,
    parse_review,
    reviewed,
)
from core.safeguarding.restrictions_fhir import is_restriction, restriction, to_flag
from gateway.auth.caller import Caller
from gateway.configuration.pathways import RestrictionSettings
from gateway.fhir.records import StoredResource
from gateway.fhir.service import ResourceService
from gateway.platform.clock import IdSource, new_id
from gateway.platform.errors import Conflict, Forbidden, InvalidContent, InvalidSearch, NotFound
from gateway.safeguarding.overdue import MissedLevel
from gateway.safeguarding.restrictions_store import RestrictionStore, StateFilter

_T = TypeVar("_T")
NOT_FOUND = "No restriction has that id."
STATES = ("active", "overdue-review", "ended")
_DURATION = re.compile(r"P(?:([0-9]{1,4})W|([0-9]{1,5})D|T([0-9]{1,6})H)")


class ReviewClock(Protocol):
    """What starts and stops a restriction's review clock (the overdue escalation)."""

    def watch(self, restriction: Restriction) -> None: ...

    def met(self, restriction: Restriction, at: datetime) -> None: ...

    def missed(self, restriction_id: str) -> list[MissedLevel]: ...

    def escalating(self, restriction_id: str) -> bool: ...


class _NoClock:
    def watch(self, restriction: Restriction) -> None:
        return None

    def met(self, restriction: Restriction, at: datetime) -> None:
        return None

    def missed(self, restriction_id: str) -> list[MissedLevel]:
        return []

    def escalating(self, restriction_id: str) -> bool:
        return False


class RestrictionService:
    def __init__(
        self,
        resources: ResourceService,
        store: RestrictionStore,
        settings: RestrictionSettings,
        organisations: frozenset[str],
        caller: Caller,
        *,
        clock: Callable[[], datetime],
        new_id: IdSource = new_id,
        review_clock: ReviewClock | None = None,
    ) -> None:
        self._resources = resources
        self._store = store
        self._settings = settings
        self._rules = RestrictionRules(max_review_interval=settings.max_review_interval)
        self._organisations = organisations
        self._caller = caller
        self._clock = clock
        self._new_id = new_id
        self._review_clock = review_clock or _NoClock()

    def create(self, body: dict[str, Any]) -> Restriction:
        new = _content(lambda: parse_new(body))
        if new.author.ods != self._caller.ods_code:
            raise Forbidden(
                "author.ods must be your organisation: each organisation records only its "
                "own restrictions.",
                expression="author.ods",
            )
        unknown = [
            Issue(
                IssueCode.VALUE,
                "shared_with names an organisation that is not in the directory, or the "
                "author itself.",
                f"shared_with.{n}.ods",
            )
            for n, organisation in enumerate(new.shared_with)
            if organisation.ods not in self._organisations or organisation.ods == new.author.ods
        ]
        if unknown:
            raise InvalidContent(unknown, business_rule=True)
        made = _content(lambda: created(new, self._new_id(), self._rules))
        (record,) = self._resources.create_mapped([to_flag(made)])
        self._store.add(made, record.version_id)
        self._review_clock.watch(made)
        return made

    def review(self, restriction_id: str, body: dict[str, Any]) -> tuple[Restriction, int]:
        """The restriction after the review, and the Flag version that records it."""
        review = _content(lambda: parse_review(body))
        stored, current = self._read(restriction_id)
        if current.author.ods != self._caller.ods_code:
            raise Forbidden(
                "Only the organisation that authored a restriction records its reviews; "
                "the others it is shared with read it."
            )
        if current.status != "active":
            raise Conflict("The restriction has ended: nothing is left to review.")
        now = self._clock()
        after = _content(lambda: reviewed(current, review, self._rules, now))
        record = self._resources.update(
            "Flag", restriction_id, to_flag(after), if_match=stored.version_id
        )
        self._store.replace(after, record.version_id)
        self._review_clock.met(current, review.reviewed_at)
        if after.status == "active":
            self._review_clock.watch(after)
        return after, record.version_id

    def get(self, restriction_id: str) -> tuple[Restriction, int]:
        stored, found = self._read(restriction_id)
        return found, stored.version_id

    def search(
        self, *, person: str | None, state: str | None, longer_than: str | None
    ) -> list[tuple[Restriction, int]]:
        if person is not None and not is_valid_nhs_number(person):
            raise InvalidSearch(
                "person must be an NHS number (10 digits passing the Modulus 11 check).",
                expression="person",
            )
        if state is not None and state not in STATES:
            raise InvalidSearch(f"state must be one of {', '.join(STATES)}.", expression="state")
        threshold = None
        if longer_than is not None:
            threshold = self._settings.long_running if longer_than == "" else _duration(longer_than)
        ids = self._store.candidates(
            self._caller.ods_code,
            now=self._clock(),
            patient=person,
            state=_state(state),
            longer_than=threshold,
        )
        found: list[tuple[Restriction, int]] = []
        for restriction_id in ids:
            try:
                found.append(self.get(restriction_id))
            except (NotFound, Forbidden):
                continue  # consent or the agreement does not share it with the caller
        return found

    def in_force(self, person: str, names: dict[str, str]) -> tuple[ActiveRestriction, ...]:
        """The person's restrictions in force that the caller may see, for the safeguarding
        picture (core.safeguarding.picture); `names`: organisation names by ODS code."""
        found = self.search(person=person, state="active", longer_than=None)
        return tuple(
            ActiveRestriction(
                reference=f"Flag/{item.id}",
                what=f"{RESTRICTION_KINDS[item.kind].display}: {item.detail}",
                author=names.get(item.author.ods, item.author.ods),
                until=item.time_limit,
                review_due=item.review_date,
                overdue_review=self.state_of(item) == "overdue-review",
            )
            for item, _ in found
        )

    def state_of(self, found: Restriction) -> str:
        """active, overdue-review (past its review date, not reviewed, or climbing the
        author's ladder for it now) or ended."""
        if found.status == "ended":
            return "ended"
        if found.review_date is not None and found.review_date < self._clock():
            return "overdue-review"
        if self._review_clock.escalating(found.id):
            return "overdue-review"
        return "active"

    def escalation(self, restriction_id: str) -> list[dict[str, str | None]]:
        """Each level of the author's safeguarding ladder its review was found overdue at,
        and the notice that told them."""
        return [
            {
                "level": missed.level,
                "deadline": format_instant(missed.deadline, fixed_width=False),
                "detected_at": format_instant(missed.detected_at, fixed_width=False),
                "notice": missed.notice,
            }
            for missed in self._review_clock.missed(restriction_id)
        ]

    def _read(self, restriction_id: str) -> tuple[StoredResource, Restriction]:
        stored = self._resources.read("Flag", restriction_id)
        content = json.loads(stored.content)
        if not is_restriction(content):
            raise NotFound(NOT_FOUND)
        return stored, restriction(content)


def _state(state: str | None) -> StateFilter | None:
    if state == "active":
        return "active"
    if state == "overdue-review":
        return "overdue-review"
    if state == "ended":
        return "ended"
    return None


def _duration(text: str) -> timedelta:
    """P<n>W, P<n>D or PT<n>H: the ISO 8601 durations a governance threshold is given in."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise InvalidSearch(
            "longer_than must be an ISO 8601 duration in weeks, days or hours (P4W, P28D, "
            "PT12H), or empty for the deployment's long-running threshold.",
            expression="longer_than",
        )
    weeks, days, hours = match.groups()
    if weeks is not None:
        return timedelta(weeks=int(weeks))
    if days is not None:
        return timedelta(days=int(days))
    return timedelta(hours=int(hours))


def _content(make: Callable[[], _T]) -> _T:
    try:
        return make()
    except ContentError as error:
        raise InvalidContent(error.issues, business_rule=True) from None
