"""The write rules for answers to a referral, registered with the one FHIR write path
(gateway.fhir.writes): a Task accepting or declining a ServiceRequest, and a
Communication responding to another (`inResponseTo`).

An answer is linked to what it answers (core.handover.referral_tasks,
core.handover.referral_responses) and then written as any resource is, so it is validated,
sender-checked, consent- and agreement-checked and logged as any write.

- A Task: its focus ServiceRequest must be visible to the caller (else 404, as for any
  id) and the caller must be that ServiceRequest's performer (else 403). One Task per
  ServiceRequest and owner: a second create is a 409 conflict naming the first, which
  the owner updates (PUT) to change its answer. Its focus never changes.
- A response: the Communication answered must be visible to the caller (else 404) and
  the caller one of its recipients (else 403). When it answers an escalation summary,
  the gateway marks the escalation answered (DatasetService.mark_answered: the summary
  Communication gains its response and is completed, written by the gateway with a
  Provenance naming the response) in the same transaction. The caller never writes the
  escalation itself: only a record's origin does (core.fhir.authorship).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.fhir.issues import ContentError, Issue, IssueCode
from core.fhir.parties import is_safeguarding_action
from core.handover.dataset import EscalationResponse
from core.handover.referral_responses import (
    answered_id,
    escalation_response,
    is_escalation_summary,
    linked_response,
    service_request_ids,
)
from core.handover.referral_tasks import answering_task, focus_id
from gateway.auth.caller import Caller
from gateway.configuration.pathways import PathwaysConfig
from gateway.fhir.service import ResourceService
from gateway.fhir.storage import validated
from gateway.fhir.store import StoredResource
from gateway.fhir.writes import Ruled, WriteContext, WriteRules
from gateway.handovers.service import DatasetService
from gateway.platform.clock import utc_now
from gateway.platform.errors import Forbidden, InvalidContent


@dataclass(frozen=True, slots=True)
class GivenResponse(WriteContext):
    """A response given as the dataset's `escalation.response` (POST
    /api/escalations/{id}/responses): recorded on the escalation as given."""

    response: EscalationResponse


def register_answer_rules(
    rules: WriteRules,
    resources: ResourceService,
    datasets: DatasetService,
    pathways: PathwaysConfig,
    organisation_names: Mapping[str, str],
    caller: Caller,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """The rules for `caller`'s answers, reading through `resources` (its service)."""
    rules.register(["Task"], TaskAnswers(resources, pathways))
    responses = Responses(resources, datasets, pathways, organisation_names, caller, clock=clock)
    rules.register(["Communication"], responses)


class TaskAnswers:
    """A Task accepting or declining a ServiceRequest, by its performer."""

    def __init__(self, resources: ResourceService, pathways: PathwaysConfig) -> None:
        self._resources = resources
        self._pathways = pathways

    def on_create(self, body: dict[str, Any], context: WriteContext | None) -> Ruled:
        if is_safeguarding_action(body):
            # Not an answer: raised through its own API (gateway.safeguarding.fhir_rules).
            return Ruled(body)
        task, request_id = self._answering_task(validated("Task", body))
        return Ruled(task, unique_on=f"focus=ServiceRequest/{request_id}")

    def on_update(self, resource_id: str, body: dict[str, Any]) -> Ruled:
        task, request_id = self._answering_task(validated("Task", body))
        if focus_id(_read(self._resources, "Task", resource_id)) != request_id:
            raise _refused(
                "A Task's focus cannot change: create a Task for the other ServiceRequest.",
                "Task.focus",
            )
        return Ruled({**task, "id": resource_id})

    def _answering_task(self, task: dict[str, Any]) -> tuple[dict[str, Any], str]:
        try:
            request_id = focus_id(task)
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None
        request = _read(self._resources, "ServiceRequest", request_id)
        if "performer" not in self._resources.roles("ServiceRequest", request_id):
            raise Forbidden(
                "Only the organisation a ServiceRequest is addressed to (its performer) may "
                "accept or decline it.",
                expression="Task.focus",
            )
        reasons = {reason.code: reason.display for reason in self._pathways.decline_reasons}
        try:
            return answering_task(task, request, reasons), request_id
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None


class Responses:
    """A Communication responding to another, by one of its recipients; a response to
    an escalation summary marks the escalation answered."""

    def __init__(
        self,
        resources: ResourceService,
        datasets: DatasetService,
        pathways: PathwaysConfig,
        organisation_names: Mapping[str, str],
        caller: Caller,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._resources = resources
        self._datasets = datasets
        self._pathways = pathways
        self._names = organisation_names
        self._caller = caller
        self._clock = clock

    def on_create(self, body: dict[str, Any], context: WriteContext | None) -> Ruled:
        if "inResponseTo" not in body:
            return Ruled(body)
        response, answered = self._linked_response(validated("Communication", body))
        if not is_escalation_summary(answered):
            return Ruled(response)
        given = context.response if isinstance(context, GivenResponse) else None

        def record_on_escalation(stored: StoredResource) -> None:
            self._record_on_escalation(answered, stored, given)

        return Ruled(response, then=record_on_escalation)

    def on_update(self, resource_id: str, body: dict[str, Any]) -> Ruled:
        if "inResponseTo" not in body:
            return Ruled(body)
        linked, _ = self._linked_response(validated("Communication", body))
        return Ruled({**linked, "id": resource_id})

    def _linked_response(self, response: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            answered_ref = answered_id(response)
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None
        answered = _read(self._resources, "Communication", answered_ref)
        if "recipient" not in self._resources.roles("Communication", answered_ref):
            raise Forbidden(
                "Only a recipient of a Communication may respond to it.",
                expression="Communication.inResponseTo",
            )
        try:
            return linked_response(response, answered), answered
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None

    def _record_on_escalation(
        self,
        summary: Mapping[str, Any],
        stored: StoredResource,
        given: EscalationResponse | None,
    ) -> None:
        """The response becomes the escalation's `escalation.response` (as `given`, or as
        read from the response), if `summary` is the summary Communication of the
        ServiceRequest it is based on: the gateway marks it answered."""
        requests = service_request_ids(summary)
        if len(requests) != 1:
            return
        request = _read(self._resources, "ServiceRequest", requests[0])
        supporting = [info.get("reference") for info in request.get("supportingInfo", [])]
        if f"Communication/{summary.get('id')}" not in supporting:
            return
        response = json.loads(stored.content)
        try:
            recorded = escalation_response(
                response,
                self._responder(),
                now=self._clock(),
                skew=self._pathways.rules.respond_by_tolerance,
            )
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None
        if given is not None:
            recorded = given.model_copy(update={"received_at": recorded.received_at})
        self._datasets.mark_answered(requests[0], recorded, cause=stored)

    def _responder(self) -> str:
        ods = self._caller.ods_code
        name = self._names.get(ods)
        return f"{name} ({ods})" if name else ods


def _read(resources: ResourceService, resource_type: str, resource_id: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(resources.read(resource_type, resource_id).content)
    return content


def _refused(message: str, expression: str) -> InvalidContent:
    return InvalidContent([Issue(IssueCode.BUSINESS_RULE, message, expression)], business_rule=True)
