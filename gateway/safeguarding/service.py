"""The safeguarding action tracker, on behalf of one caller.

- Raise (`raise_action`): the caller is the requester. The Task is written through the
  caller's own FHIR write path, as any record the caller makes (scopes, the sender rule,
  consent and the data-sharing agreement with the owner, the access log); its origin is
  the requester (core.fhir.parties: a safeguarding action's sender is its requester).
- Move on (`move`): only the owner accepts, starts and completes, in that order; only the
  requester cancels; nothing moves after completed or cancelled
  (core.safeguarding.transitions). An organisation that cannot see the action is told it
  is not there (404); one that sees it but may not make the move is refused (403). The
  gateway writes the new version itself (only a record's origin writes new versions, and
  the owner is not the origin), sharing it on behalf of the organisation that asked, with
  a Provenance naming that organisation and the person acting (activity UPDATE, the
  previous version as its source).
- Partner contact (`record_contact`): a Communication from the caller (owner or
  requester) to the other, about the action, through the caller's own write path.
- Queries (`find`, `huddle`): rows from the tracker's table, each action read through the
  caller's FHIR read path, so consent and the agreements decide what is shown and every
  read is in the access log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from core.codes import safeguarding as codes
from core.fhir.dates import format_instant
from core.fhir.issues import Issue, IssueCode
from core.handover.dataset_input import dataset_issues
from core.safeguarding.actions import ActionRequest, action_task
from core.safeguarding.contacts import ContactRequest, contact_communication, contact_part
from core.safeguarding.transitions import StatusChange, move_provenance, next_task, refusal
from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.fhir.service import ResourceService
from gateway.fhir.store import StoredResource
from gateway.fhir.writes import FhirWrites, WriteContext
from gateway.platform.clock import Clock, IdSource, new_id, utc_now
from gateway.platform.errors import Conflict, Forbidden, InvalidContent, NotFound, SharingRefused
from gateway.safeguarding.store import ActionFilter, ActionRow, ActionStore, ContactRow

FINISHED = ("completed", "cancelled")
_Model = TypeVar("_Model", bound=BaseModel)


class RaisedThroughApi(WriteContext):
    """A safeguarding action raised through POST /api/safeguarding/actions: the one way a
    client creates one (gateway.safeguarding.fhir_rules refuses any other)."""


RAISED = RaisedThroughApi()


class Deadlines(Protocol):
    """The deadline watcher's view of actions (gateway.safeguarding.deadlines)."""

    def watch(self, action: ActionRow, caller: Caller, title: str) -> None: ...

    def stop(self, task_id: str, at: datetime) -> None: ...

    def missed(self, task_id: str) -> list[dict[str, Any]]: ...

    def delays(self, ods_code: str | None, since: datetime | None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class ActionView:
    """An action as the API shows it: its row, and its Task as the caller may see it."""

    row: ActionRow
    task: Mapping[str, Any]
    now: datetime
    escalations: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        row, task = self.row, self.task
        team = [p.get("text") for p in task.get("performerType", []) if isinstance(p, Mapping)]
        body: dict[str, Any] = {
            "id": row.task_id,
            "task": f"Task/{row.task_id}",
            "status": row.status,
            "overdue": row.overdue_at(self.now),
            "action": row.kind,
            "description": task.get("description"),
            "patient": {"nhs_number": row.patient},
            "requester": {"ods": row.requester_ods},
            "owner": {"ods": row.owner_ods, "team": team[0] if team else None},
            "deadline": _instant(row.deadline),
            "priority": row.priority,
            "locality": row.locality,
            "created_at": _instant(row.created_at),
            "updated_at": _instant(row.updated_at),
        }
        if row.completed_at is not None:
            body["completed_at"] = _instant(row.completed_at)
        for output in task.get("output", []):
            code = output.get("type", {}).get("coding", [{}])[0].get("code")
            if code in (codes.OUTCOME.code, codes.EVIDENCE.code):
                body[code] = output.get("valueString")
        reason = task.get("statusReason", {}).get("text")
        if reason is not None:
            body["reason"] = reason
        if self.escalations:
            body["escalations"] = self.escalations
        return body


@dataclass(frozen=True, slots=True)
class ContactView:
    row: ContactRow
    communication: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        row, communication = self.row, self.communication
        return {
            "id": row.communication_id,
            "communication": f"Communication/{row.communication_id}",
            "action": f"Task/{row.task_id}",
            "kind": row.kind,
            "at": _instant(row.sent_at),
            "by": {"ods": row.sender_ods, "person": contact_part(dict(communication), "by")},
            "with": {"ods": row.recipient_ods},
            "contacted": contact_part(dict(communication), "contacted"),
            "agreed": contact_part(dict(communication), "agreed"),
        }


class SafeguardingService:
    def __init__(
        self,
        resources: ResourceService,
        store: ActionStore,
        caller: Caller,
        organisations: frozenset[str],
        *,
        writes: FhirWrites | None = None,
        workflow: FhirWrites | None = None,
        deadlines: Deadlines | None = None,
        clock: Clock = utc_now,
        new_id: IdSource = new_id,
    ) -> None:
        self._resources = resources
        self._store = store
        self._caller = caller
        self._organisations = organisations
        self._writes = writes
        self._workflow = workflow
        self._deadlines = deadlines
        self._clock = clock
        self._new_id = new_id

    # -- raising, moving on, contacts --------------------------------------------------

    def raise_action(self, body: Mapping[str, Any]) -> ActionView:
        request = _parsed(ActionRequest, body)
        caller = self._caller.ods_code
        if request.requester.ods is not None and request.requester.ods != caller:
            raise Forbidden(
                "requester.ods must be your own organisation: an action is raised by the "
                "organisation whose client calls.",
                expression="requester.ods",
            )
        if request.owner.ods not in self._organisations:
            raise _invalid("owner.ods must be an organisation in the directory.", "owner.ods")
        now = self._clock()
        task = action_task(request, task_id=self._new_id(), requester_ods=caller, now=now)
        stored = self._writer().create("Task", task, context=RAISED).record
        row = ActionRow(
            task_id=stored.id,
            requester_ods=caller,
            owner_ods=request.owner.ods,
            patient=request.patient.nhs_number,
            kind=request.action,
            status="requested",
            deadline=request.deadline,
            priority=request.priority,
            locality=request.locality,
            created_at=now,
            updated_at=now,
        )
        self._store.add(row)
        if self._deadlines is not None:
            self._deadlines.watch(row, self._caller, _title(request.action))
        return ActionView(row, json.loads(stored.content), now)

    def move(self, task_id: str, body: Mapping[str, Any]) -> ActionView:
        change = _parsed(StatusChange, body)
        self._resources.authorise("Task", Interaction.UPDATE)
        current, row = self._visible_action(task_id)
        roles = self._resources.roles("Task", task_id)
        refused = refusal(change.status, row.status, roles)
        if refused is not None and refused.kind == "forbidden":
            raise Forbidden(refused.message, expression="status")
        if refused is not None:
            raise Conflict(refused.message, expression="status")
        now = self._clock()
        acting = self._caller.ods_code
        task = next_task(json.loads(current.content), change, acting_ods=acting, now=now)
        workflow = self._workflow_writer()
        written = workflow.update("Task", task_id, task, if_match=current.version_id)
        provenance = move_provenance(
            self._new_id(),
            target=_versioned(written),
            cause=_versioned(current),
            requester_ods=row.requester_ods,
            acting_ods=acting,
            by=change.by,
            recorded=now,
            changed=task,
        )
        workflow.create("Provenance", provenance)
        self._store.moved(task_id, change.status, now)
        if change.status in FINISHED and self._deadlines is not None:
            self._deadlines.stop(task_id, now)
        moved = self._store.get(task_id)
        assert moved is not None
        return ActionView(moved, json.loads(written.content), now)

    def record_contact(self, task_id: str, body: Mapping[str, Any]) -> ContactView:
        contact = _parsed(ContactRequest, body)
        current, row = self._visible_action(task_id)
        caller = self._caller.ods_code
        roles = self._resources.roles("Task", task_id)
        if not roles & {"owner", "requester"}:
            raise Forbidden(
                "Only the action's owner or requester records partner contact on it.",
                expression="Task.owner",
            )
        other = row.owner_ods if caller == row.requester_ods else row.requester_ods
        communication = contact_communication(
            contact,
            communication_id=self._new_id(),
            task=json.loads(current.content),
            sender_ods=caller,
            recipient_ods=other,
        )
        stored = self._writer().create("Communication", communication).record
        contact_row = ContactRow(
            communication_id=stored.id,
            task_id=task_id,
            sender_ods=caller,
            recipient_ods=other,
            kind=contact.kind,
            sent_at=contact.at,
            recorded_at=self._clock(),
        )
        self._store.add_contact(contact_row)
        return ContactView(contact_row, json.loads(stored.content))

    # -- queries ------------------------------------------------------------------------

    def find(
        self,
        *,
        owner: str | None = None,
        patient: str | None = None,
        state: str | None = None,
        limit: int = 100,
    ) -> list[ActionView]:
        """The caller's actions (as owner or requester), soonest deadline first."""
        now = self._clock()
        rows = self._store.find(
            ActionFilter(self._caller.ods_code, owner, patient, state, now, limit)
        )
        return self._shown(rows, now)

    def delays(self, *, since: datetime | None, every_organisation: bool) -> list[dict[str, Any]]:
        """Safeguarding work found overdue (actions not completed, restrictions not
        reviewed), each level missed, where the caller's organisation owns the work or is
        owed it (or every organisation's, for an operator or system-wide IG lead)."""
        if self._deadlines is None:
            return []
        return self._deadlines.delays(None if every_organisation else self._caller.ods_code, since)

    def week(
        self, start: datetime, end: datetime
    ) -> tuple[list[ActionView], list[ContactView], datetime]:
        """The caller's actions open at some time in the week [start, end), and the partner
        contacts made in it, as of the earlier of now and the week's end."""
        now = self._clock()
        rows = self._store.for_week(self._caller.ods_code, start, end)
        contacts: list[ContactView] = []
        for contact in self._store.contacts_in(self._caller.ods_code, start, end):
            try:
                record = self._resources.read("Communication", contact.communication_id)
            except (NotFound, SharingRefused):
                continue
            contacts.append(ContactView(contact, json.loads(record.content)))
        return self._shown(rows, min(now, end)), contacts, now

    def _shown(self, rows: Sequence[ActionRow], now: datetime) -> list[ActionView]:
        views: list[ActionView] = []
        for row in rows:
            try:
                record = self._resources.read("Task", row.task_id)
            except (NotFound, SharingRefused):
                continue  # consent or the agreement no longer lets the caller see it
            missed = self._deadlines.missed(row.task_id) if self._deadlines is not None else []
            views.append(ActionView(row, json.loads(record.content), now, missed))
        return views

    # -- shared -------------------------------------------------------------------------

    def _visible_action(self, task_id: str) -> tuple[StoredResource, ActionRow]:
        """The action's current Task, as the caller may see it (else 404 or 403)."""
        current = self._resources.read("Task", task_id)
        row = self._store.get(task_id)
        if row is None:
            raise NotFound("No safeguarding action has that id.")
        return current, row

    def _writer(self) -> FhirWrites:
        if self._writes is None:
            raise RuntimeError("a safeguarding write was asked of a read-only service")
        return self._writes

    def _workflow_writer(self) -> FhirWrites:
        if self._workflow is None:
            raise RuntimeError("a safeguarding move was asked of a read-only service")
        return self._workflow


def _parsed(model: type[_Model], body: Mapping[str, Any]) -> _Model:
    """The body as `model`, or a 422 naming every field that is wrong, never its value."""
    try:
        return model.model_validate(dict(body))
    except ValidationError as error:
        raise InvalidContent(dataset_issues(error, part=model), business_rule=True) from None


def _invalid(message: str, expression: str) -> InvalidContent:
    return InvalidContent([Issue(IssueCode.VALUE, message, expression)], business_rule=True)


def _versioned(record: StoredResource) -> str:
    return f"{record.resource_type}/{record.id}/_history/{record.version_id}"


def _instant(moment: datetime) -> str:
    return format_instant(moment, fixed_width=False)


def _title(kind: str) -> str:
    """A label for notices that names no person: the kind of action only."""
    return f"Safeguarding action: {codes.ACTION_KINDS[kind].display}"
