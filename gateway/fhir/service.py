"""The FHIR REST interactions on behalf of a caller: what it may do, decided before and
after versioned storage (gateway.fhir.storage) writes, and on what the store reads.

Scopes, "only a record's parties see it", the sender and author rules, Consent
authorship, consent and data-sharing decisions and the access log are all here; the
storage knows nothing of callers."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from consent.model import Decision, Obligation
from core.access_log.event import AuditedDecision
from core.fhir.authorship import NOT_AUTHOR_MESSAGE, is_author, subject_change_issues
from core.fhir.parties import (
    DIRECTORY_TYPES,
)
from core.search.errors import SearchRefused
from core.search.query import PagingLimits, SearchQuery, parse_search
from gateway.access_log.trail import (
    NOT_AUTHOR,
    NOT_PARTY,
    PATIENT_NOT_ESTABLISHED,
    AccessTrail,
)
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.fhir.changes import ChangeListener
from gateway.fhir.patients import LocalSystems, naming_people
from gateway.fhir.senders import check_sender
from gateway.fhir.storage import Prepared, VersionedStorage, validated
from gateway.fhir.store import (
    NewResource,
    Party,
    ResourceStore,
    SearchPage,
    SharingFacts,
    StoredResource,
)
from gateway.platform.clock import Clock, IdSource, new_id, utc_now
from gateway.platform.errors import (
    BadRequest,
    Conflict,
    DirectoryReadOnly,
    Forbidden,
    InsufficientScope,
    InvalidContent,
    InvalidHeader,
    MultipleMatches,
    NotFound,
    PreconditionFailed,
)
from gateway.sharing.consent_authors import check_consent_record
from gateway.sharing.policy import SharingPolicy, as_shown, refusal

# Version ids are ASCII digits that fit every database's integer column.
_VERSION_ID = re.compile(r"[1-9][0-9]{0,8}")


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
    """The FHIR interactions, on behalf of `caller`.

    A caller acts within its token's scopes and sees only resources its organisation is
    party to; another organisation's resource is answered exactly as a missing one. With
    no caller the gateway itself is acting (start-up, its own pipelines) and sees all.
    `changes` hears of every version stored, in the write's transaction
    (gateway.fhir.changes): Subscriptions are notified from there.
    """

    def __init__(
        self,
        store: ResourceStore,
        limits: PagingLimits,
        *,
        caller: Caller | None = None,
        trail: AccessTrail | None = None,
        sharing: SharingPolicy | None = None,
        local_systems: LocalSystems | None = None,
        clock: Clock = utc_now,
        new_id: IdSource = new_id,
        changes: ChangeListener | None = None,
    ) -> None:
        self._store = store
        self._storage = VersionedStorage(store, local_systems=local_systems, clock=clock)
        self._limits = limits
        self._caller = caller
        # Notes what the request returns or writes, for its AuditEvents.
        self._trail = trail
        # The consent and data-sharing decision point, for a caller; None: the gateway.
        self._sharing = sharing
        self._clock = clock
        self._new_id = new_id
        self._changes = changes

    def create(
        self,
        resource_type: str,
        body: dict[str, Any],
        *,
        if_none_exist: str | None = None,
        unique_on: str | None = None,
    ) -> CreateOutcome:
        """`unique_on`: a search (as If-None-Exist) the gateway's own rules say at most
        one resource may match: a match is a 409 conflict naming it."""
        self.authorise(resource_type, Interaction.CREATE)
        prepared = self._prepare(resource_type, validated(resource_type, body))
        self._check_consent(prepared, previous=None)
        if if_none_exist is not None:
            existing = self._match_for_conditional_create(resource_type, if_none_exist)
            if existing is not None:
                return CreateOutcome(self._shown(existing), created=False)
        if unique_on is not None:
            existing = self._match_for_conditional_create(resource_type, unique_on)
            if existing is not None:
                raise Conflict(
                    f"{resource_type}/{existing.id} already stands for this; update it "
                    "(PUT) instead of creating another."
                )
        new, decisions = self._first_version(self._new_id(), prepared)
        self._storage.insert([new])
        self._stored([new])
        self._saw(new.record, decisions)
        return CreateOutcome(new.record, created=True)

    def create_mapped(self, resources: Sequence[Mapping[str, Any]]) -> list[StoredResource]:
        """Store resources the gateway made itself, with core.handover.fhir, from a
        dataset it has checked, under the ids they carry (chosen up front so that they
        can refer to each other), in one set of inserts.

        Each is authorised, checked for its sender and decided on for sharing, as a
        client's create is. It is not validated again: the mapping is a pure function
        whose every output is validated against HL7's R4 JSON schema and the R4 models,
        and by `validated` itself, in the tests (golden files for every pathway, risk and
        priority; a property test over every valid dataset). Validating here would cost
        three times the rest of the write. What clients send is always validated.
        """
        made: list[tuple[NewResource, list[Decision]]] = []
        for resource in resources:
            resource_type = str(resource["resourceType"])
            self.authorise(resource_type, Interaction.CREATE)
            prepared = self._prepare(resource_type, resource)
            self._check_consent(prepared, previous=None)
            made.append(self._first_version(str(resource["id"]), prepared))
        self._storage.insert([new for new, _ in made])
        self._stored([new for new, _ in made])
        for new, decisions in made:
            self._saw(new.record, decisions)
        return [new.record for new, _ in made]

    def _first_version(
        self, resource_id: str, prepared: Prepared
    ) -> tuple[NewResource, list[Decision]]:
        """The first version of a resource, once its sharing is permitted."""
        decisions = self._check_sharing(prepared)
        facts = self._storage.facts(prepared, writer=self._visible_to, previous=None)
        return self._storage.first_version(resource_id, prepared, facts), decisions

    def _prepare(
        self,
        resource_type: str,
        resource: Mapping[str, Any],
        *,
        current: StoredResource | None = None,
    ) -> Prepared:
        """Who the resource involves (the caller must be a sender of it: check_sender)
        and who it is about; `current`: the version an update replaces."""
        parties = self._storage.parties(resource_type, resource)
        self._check_sender(resource_type, resource, parties)
        try:
            patient = self._storage.patient(
                resource_type, resource, parties, writer=self._visible_to
            )
        except InvalidContent:
            if self._trail is not None:
                self._trail.decision = AuditedDecision(PATIENT_NOT_ESTABLISHED, None)
                if current is not None:
                    # The refusal is in the access history of the person it is about.
                    self._trail.refused(current, PATIENT_NOT_ESTABLISHED)
            raise
        return Prepared(resource_type, resource, parties, patient)

    def read(self, resource_type: str, resource_id: str) -> StoredResource:
        self.authorise(resource_type, Interaction.READ)
        return self._shown(self._visible_current(resource_type, resource_id))

    def vread(self, resource_type: str, resource_id: str, version_id: str) -> StoredResource:
        self.authorise(resource_type, Interaction.READ)
        record = (
            self._store.version(resource_type, resource_id, int(version_id))
            if _VERSION_ID.fullmatch(version_id)
            else None
        )
        # A version is shown to a party to the record as it is now and to that version
        # (else "not found", as for a missing one), when sharing both the current version
        # and that version, each on its own facts, is permitted.
        if (
            record is None
            or not self._sees(resource_type, resource_id)
            or not self._party_to(record)
        ):
            self._hidden(record)
            raise NotFound(f"No {resource_type} has that id and version.")
        current = self._current(resource_type, resource_id)
        decision = self._shareable(current, shown=record)
        if record.version_id != current.version_id:
            decision = self._shareable(record)
        return self._served(record, decision)

    def roles(self, resource_type: str, resource_id: str) -> frozenset[str]:
        """The roles (requester, performer, recipient...) the caller's organisation holds
        in a resource; none for the gateway itself. Check it is visible first (read)."""
        if self._caller is None:
            return frozenset()
        ods_code = self._caller.ods_code
        parties = self._store.parties(resource_type, resource_id)
        return frozenset(party.basis for party in parties if party.ods_code == ods_code)

    def authorise(self, resource_type: str, interaction: Interaction) -> None:
        """InsufficientScope unless the caller's token grants this interaction; and no
        caller writes the directory, which comes from configuration (the gateway does)."""
        writes = interaction in (Interaction.CREATE, Interaction.UPDATE, Interaction.DELETE)
        if self._caller is not None and resource_type in DIRECTORY_TYPES and writes:
            raise DirectoryReadOnly()
        if self._caller is not None and not self._caller.may(resource_type, interaction):
            raise InsufficientScope(
                f"The access token does not grant this on {resource_type}: it needs "
                f"the scope system/{resource_type}.{interaction.value}."
            )

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        if_match: int | None = None,
    ) -> StoredResource:
        require_body_id(resource_type, resource_id, body)
        self.authorise(resource_type, Interaction.UPDATE)
        current = self._visible_current(resource_type, resource_id)
        self._check_author(current)
        resource = validated(resource_type, body)
        prepared = self._prepare(resource_type, resource, current=current)
        previous = self._store.parties(resource_type, resource_id)
        self._check_consent(prepared, previous=previous, id=resource_id)
        if if_match is not None and if_match != current.version_id:
            raise PreconditionFailed(
                f"If-Match names version {if_match}; the current version is {current.version_id}."
            )
        facts = self._storage.facts(prepared, writer=self._visible_to, previous=current.facts)
        self._check_subject(current, resource, facts)
        decisions = self._check_sharing(prepared)
        record = self._storage.next_version(current, prepared, facts)
        if record is None:
            # Another request wrote a new version between our read and our write.
            if if_match is not None:
                raise PreconditionFailed("The resource changed while this update was applied.")
            raise Conflict("The resource changed while this update was applied; retry.")
        self._stored([NewResource(record, (), prepared.parties)])
        self._saw(record, decisions)
        return record

    def _stored(self, new: Sequence[NewResource]) -> None:
        """Tell the listener of versions just stored, each with its parties."""
        if self._changes is not None:
            self._changes.stored([replace(n.record, parties=tuple(n.parties)) for n in new])

    def history(
        self, resource_type: str, resource_id: str, *, count: int | None, below: int | None
    ) -> HistoryPage:
        self.authorise(resource_type, Interaction.READ)
        current = self._visible_current(resource_type, resource_id)
        self._shareable(current)  # the current version refused: the whole history is
        size = min(count or self._limits.default_count, self._limits.max_count)
        versions = self._store.versions(resource_type, resource_id, count=size, below=below)
        # Each version on its own parties and facts: one the caller may not see is left
        # out of the page (its content never served), not counted against the others.
        records: list[StoredResource] = []
        for record in versions:
            if not self._party_to(record):
                continue
            decision = None if self._sharing is None else self._sharing.on_read(record)
            if decision is None or decision.permitted:
                records.append(self._served(record, decision))
        oldest = versions[-1].version_id if versions else 1
        return HistoryPage(records, current.version_id, oldest if oldest > 1 else None)

    def search(self, query: SearchQuery) -> SearchPage:
        self.authorise(query.resource_type, Interaction.SEARCH)
        sharing = self._sharing.search_filter() if self._sharing is not None else None
        query = self._naming_people(query)
        page = self._store.search(query, visible_to=self._visible_to, sharing=sharing)
        included = page.included
        if self._caller is not None:
            # _include brings only what the token may read, as well as what the caller sees.
            caller = self._caller
            included = [r for r in included if caller.may(r.resource_type, Interaction.READ)]
        return replace(
            page,
            matches=[self._shown(record) for record in page.matches],
            included=[self._shown(record) for record in included],
        )

    def _naming_people(self, query: SearchQuery) -> SearchQuery:
        return naming_people(self._store, query, self._visible_to)

    def _hidden(self, record: StoredResource | None) -> None:
        """The caller is told "not found" either way; the access log, for the IG, says
        whose record it was when it exists but is not the caller's to see."""
        if record is not None and self._trail is not None:
            self._trail.refused(record, NOT_PARTY)

    def _saw(self, record: StoredResource, decisions: Sequence[Decision] = ()) -> None:
        if self._trail is not None:
            self._trail.saw(record)
            for decision in decisions:
                self._trail.shared(record, decision, self._justification)

    @property
    def _justification(self) -> str | None:
        return None if self._caller is None else self._caller.justification

    # -- consent and data-sharing agreements -------------------------------------------

    def _shown(self, record: StoredResource) -> StoredResource:
        """The current version `record`, as the caller may be shown it (or refused)."""
        return self._served(record, self._shareable(record))

    def _shareable(
        self, current: StoredResource, *, shown: StoredResource | None = None
    ) -> Decision | None:
        """The decision on sharing `current` with the caller; SharingRefused if denied."""
        if self._sharing is None:
            return None
        decision = self._sharing.on_read(current)
        if not decision.permitted:
            if self._trail is not None:
                self._trail.refused(shown or current, decision.rule.value, decision.source)
            raise refusal(decision, f"this {current.resource_type} with your organisation")
        return decision

    def _served(self, record: StoredResource, decision: Decision | None) -> StoredResource:
        self._saw(record, () if decision is None else (decision,))
        if decision is not None and Obligation.WITHHOLD_FREE_TEXT in decision.obligations:
            return replace(record, content=as_shown(record.content, decision))
        return record

    def _check_sharing(self, prepared: Prepared) -> list[Decision]:
        """A write shares the resource with every other organisation it names: each
        sharing must be permitted, or nothing is stored."""
        if self._sharing is None:
            return []
        resource_type, patient = prepared.resource_type, prepared.patient
        recipients = {party.ods_code for party in prepared.parties}
        decided = self._sharing.on_write(resource_type, prepared.resource, patient, recipients)
        for recipient, decision in decided:
            if not decision.permitted:
                if self._trail is not None:
                    # The refused push is in the person's access history all the same.
                    self._trail.concerns(patient)
                    self._trail.decision = AuditedDecision(decision.rule.value, decision.source)
                raise refusal(decision, f"this {resource_type} with {recipient}")
        return [decision for _, decision in decided]

    # -- who sees what ----------------------------------------------------------------

    @property
    def _visible_to(self) -> str | None:
        return None if self._caller is None else self._caller.ods_code

    def _sees(self, resource_type: str, resource_id: str) -> bool:
        if self._caller is None or resource_type in DIRECTORY_TYPES:
            return True
        return self._store.is_party(resource_type, resource_id, self._caller.ods_code)

    def _party_to(self, version: StoredResource) -> bool:
        """Whether the caller's organisation was party to this version of the record."""
        if self._caller is None or version.resource_type in DIRECTORY_TYPES:
            return True
        ods_code = self._caller.ods_code
        return any(party.ods_code == ods_code for party in version.parties or ())

    def _current(self, resource_type: str, resource_id: str) -> StoredResource:
        record = self._store.current(resource_type, resource_id)
        if record is None:
            raise NotFound(f"No {resource_type} has that id.")
        return record

    def _visible_current(self, resource_type: str, resource_id: str) -> StoredResource:
        record = self._store.current(resource_type, resource_id)
        if record is None or not self._sees(resource_type, resource_id):
            self._hidden(record)
            # The same answer for "not there" and "not yours", so ids cannot be probed.
            # The id is not repeated: a URL is client input and could carry anything.
            raise NotFound(f"No {resource_type} has that id.")
        return record

    def _check_sender(
        self, resource_type: str, resource: Mapping[str, Any], parties: list[Party]
    ) -> None:
        if self._caller is not None:
            check_sender(self._caller.ods_code, resource_type, parties, resource)

    # -- authorship (core.fhir.authorship) ---------------------------------------------

    def _check_author(self, current: StoredResource) -> None:
        """Only the record's origin writes a new version (the gateway's own workflow, with
        no caller, excepted); another party is refused, and the refusal logged."""
        if self._caller is None or current.resource_type in DIRECTORY_TYPES:
            return
        origin = current.facts.origin if current.facts is not None else None
        if not is_author(origin, self._caller.ods_code):
            if self._trail is not None:
                self._trail.refused(current, NOT_AUTHOR)
            raise Forbidden(NOT_AUTHOR_MESSAGE)

    def _check_subject(
        self, current: StoredResource, resource: Mapping[str, Any], facts: SharingFacts
    ) -> None:
        """A new version stays about the person the record is about (422 otherwise)."""
        previous_patient = current.facts.patient if current.facts is not None else None
        issues = subject_change_issues(
            current.resource_type,
            json.loads(current.content),
            previous_patient,
            resource,
            facts.patient,
        )
        if issues:
            raise InvalidContent(issues, business_rule=True)

    def _check_consent(
        self, prepared: Prepared, *, previous: list[Party] | None, id: str | None = None
    ) -> None:
        if prepared.resource_type == "Consent":
            check_consent_record(
                self._caller,
                prepared.resource,
                prepared.parties,
                patient=prepared.patient,
                previous=previous,
                now=self._clock(),
                trail=self._trail,
                resource_id=id,
            )

    def _match_for_conditional_create(
        self, resource_type: str, if_none_exist: str
    ) -> StoredResource | None:
        params = parse_qsl(if_none_exist.lstrip("?"), keep_blank_values=True)
        try:
            query = parse_search(resource_type, params, PagingLimits(2, 2))
        except SearchRefused:
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
        page = self._store.search(
            SearchQuery(resource_type, query.criteria, count=2, total=False),
            visible_to=self._visible_to,
        )
        if len(page.matches) > 1:
            raise MultipleMatches("If-None-Exist matches more than one resource.")
        return page.matches[0] if page.matches else None


def require_body_id(resource_type: str, resource_id: str, body: Mapping[str, Any]) -> None:
    """An update's body names the resource the URL does (400 otherwise)."""
    if body.get("id") != resource_id:
        raise BadRequest(
            "The resource id must be present and equal the id in the URL.",
            expression=f"{resource_type}.id",
        )
