"""The one path every FHIR write takes: ResourceService's checks and versioned storage,
with the write rules registered for the resource's type.

A rule is what writes of one type must also satisfy or bring about beyond what every
write does: a Task answering a referral is linked to it and unique per referral, a
Communication responding to another is linked to it and may mark an escalation
answered, a new version of a pushed handover's resource is queued for its receivers.
Rules that belong to a feature live with it (gateway.handovers) and register here; the
service consults them in the order they were registered, so no write goes around them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.auth.scopes import Interaction
from gateway.fhir.service import CreateOutcome, ResourceService, require_body_id
from gateway.fhir.store import StoredResource


class WriteContext:
    """What a write was asked for besides its body, for the rule that reads it (a
    response given in a dataset's own terms, say). Rules define their own kinds."""


@dataclass(frozen=True, slots=True)
class Ruled:
    """A write as a rule leaves it."""

    body: dict[str, Any]
    # A search at most one resource may match: a match is a 409 conflict naming it.
    unique_on: str | None = None
    # Run once the version is stored, in the write's own transaction.
    then: Callable[[StoredResource], None] | None = None


class WriteRule(Protocol):
    def on_create(self, body: dict[str, Any], context: WriteContext | None) -> Ruled: ...

    def on_update(self, resource_id: str, body: dict[str, Any]) -> Ruled: ...


class WriteRules:
    """The rules for each resource type, in the order they were registered."""

    def __init__(self) -> None:
        self._rules: dict[str, list[WriteRule]] = {}

    def register(self, resource_types: Iterable[str], rule: WriteRule) -> None:
        for resource_type in resource_types:
            self._rules.setdefault(resource_type, []).append(rule)

    def for_type(self, resource_type: str) -> tuple[WriteRule, ...]:
        return tuple(self._rules.get(resource_type, ()))


class FhirWrites:
    """FHIR creates and updates through `resources` (whoever it acts for), each ruled
    by `rules`."""

    def __init__(self, resources: ResourceService, rules: WriteRules | None = None) -> None:
        self._resources = resources
        self._rules = rules or WriteRules()

    @property
    def resources(self) -> ResourceService:
        """The service this writes through, for reads in the same transaction."""
        return self._resources

    def create(
        self,
        resource_type: str,
        body: dict[str, Any],
        *,
        if_none_exist: str | None = None,
        context: WriteContext | None = None,
    ) -> CreateOutcome:
        rules = self._rules.for_type(resource_type)
        if rules:
            # A token without the scope is refused before a rule reads anything.
            self._resources.authorise(resource_type, Interaction.CREATE)
        unique_on: str | None = None
        then: list[Callable[[StoredResource], None]] = []
        for rule in rules:
            ruled = rule.on_create(body, context)
            body, unique_on = ruled.body, ruled.unique_on or unique_on
            then += [ruled.then] if ruled.then is not None else []
        outcome = self._resources.create(
            resource_type, body, if_none_exist=if_none_exist, unique_on=unique_on
        )
        if outcome.created:
            for follow_up in then:
                follow_up(outcome.record)
        return outcome

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        if_match: int | None = None,
    ) -> StoredResource:
        require_body_id(resource_type, resource_id, body)
        rules = self._rules.for_type(resource_type)
        if rules:
            self._resources.authorise(resource_type, Interaction.UPDATE)
        then: list[Callable[[StoredResource], None]] = []
        for rule in rules:
            ruled = rule.on_update(resource_id, body)
            body = ruled.body
            then += [ruled.then] if ruled.then is not None else []
        record = self._resources.update(resource_type, resource_id, body, if_match=if_match)
        for follow_up in then:
            follow_up(record)
        return record

    def create_mapped(self, resources: Sequence[Mapping[str, Any]]) -> list[StoredResource]:
        """Resources the gateway mapped from a dataset it has checked, stored together
        (ResourceService.create_mapped). Rules answer what clients send: none applies."""
        return self._resources.create_mapped(resources)
