"""The one write path with its rules, on the real services and stores, on both
databases: a rule's body is what is stored, its uniqueness is enforced, its follow-up
runs only once something was stored, and rules are consulted only for their own type,
in order, and never before the caller's scope is checked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Connection

from core.search.query import PagingLimits
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore, StoredResource
from gateway.fhir.writes import FhirWrites, Ruled, WriteContext, WriteRules
from gateway.platform.database import Database
from gateway.platform.errors import BadRequest, Conflict, InsufficientScope
from tests.builders import PROVIDER_ODS, flag, service_request

LIMITS = PagingLimits(20, 100)


def _provider(scopes: str = "system/*.cruds") -> Caller:
    return Caller(
        client_id="provider",
        ods_code=PROVIDER_ODS,
        role="provider-epr",
        scopes=ScopeSet.parse([scopes]),
        purpose_of_use="direct-care",
    )


@dataclass
class Marking:
    """A rule of the test's own: tags what it rules, asks for one resource per tag,
    and notes what it was asked and what was stored."""

    tag: str
    log: list[str] = field(default_factory=list)

    def on_create(self, body: dict[str, Any], context: WriteContext | None) -> Ruled:
        self.log.append(f"{self.tag}:create")
        notes = [*body.get("note", []), {"text": self.tag}]
        return Ruled(
            {**body, "note": notes}, unique_on=f"_id={body.get('id', 'none')}", then=self._stored
        )

    def on_update(self, resource_id: str, body: dict[str, Any]) -> Ruled:
        self.log.append(f"{self.tag}:update {resource_id}")
        return Ruled({**body, "note": [{"text": self.tag}]}, then=self._stored)

    def _stored(self, record: StoredResource) -> None:
        self.log.append(f"{self.tag}:stored v{record.version_id}")


def _writes(connection: Connection, *rules: Marking, caller: Caller | None = None) -> FhirWrites:
    registry = WriteRules()
    for rule in rules:
        registry.register(["ServiceRequest"], rule)
    resources = ResourceService(ResourceStore(connection), LIMITS, caller=caller or _provider())
    return FhirWrites(resources, registry)


def _notes(record: StoredResource) -> list[str]:
    return [note["text"] for note in json.loads(record.content).get("note", [])]


def test_rules_for_a_type_are_consulted_in_order_and_follow_up_what_was_stored(
    database: Database,
) -> None:
    first, second = Marking("first"), Marking("second")
    with database.write() as connection:
        writes = _writes(connection, first, second)
        created = writes.create("ServiceRequest", service_request())
        unruled = writes.create("Flag", flag())
        updated = writes.update(
            "ServiceRequest", created.record.id, {**service_request(), "id": created.record.id}
        )

    assert _notes(created.record) == ["first", "second"]
    assert _notes(unruled.record) == []
    assert _notes(updated) == ["second"]  # each rule saw the body the one before left
    assert first.log == [
        "first:create",
        "first:stored v1",
        f"first:update {created.record.id}",
        "first:stored v2",
    ]
    assert second.log == [
        "second:create",
        "second:stored v1",
        f"second:update {created.record.id}",
        "second:stored v2",
    ]


def test_a_conditional_create_that_finds_its_match_follows_nothing_up(
    database: Database,
) -> None:
    rule = Marking("rule")
    with database.write() as connection:
        writes = _writes(connection, rule)
        created = writes.create("ServiceRequest", service_request())
        again = writes.create(
            "ServiceRequest", service_request(), if_none_exist=f"_id={created.record.id}"
        )

    assert not again.created
    assert again.record.id == created.record.id
    assert rule.log == ["rule:create", "rule:stored v1", "rule:create"]


def test_what_a_rule_says_must_be_unique_is_a_conflict(database: Database) -> None:
    rule = Marking("rule")
    with database.write() as connection:
        writes = _writes(connection, rule)
        created = writes.create("ServiceRequest", service_request())
        with pytest.raises(Conflict, match=f"ServiceRequest/{created.record.id}"):
            writes.create("ServiceRequest", {**service_request(), "id": created.record.id})
    assert rule.log == ["rule:create", "rule:stored v1", "rule:create"]


def test_no_rule_is_consulted_for_a_write_the_caller_may_not_make(database: Database) -> None:
    rule = Marking("rule")
    with database.write() as connection:
        writes = _writes(connection, rule, caller=_provider("system/ServiceRequest.rs"))
        with pytest.raises(InsufficientScope):
            writes.create("ServiceRequest", service_request())
        with pytest.raises(BadRequest):
            writes.update("ServiceRequest", "one", {**service_request(), "id": "another"})
    assert rule.log == []
