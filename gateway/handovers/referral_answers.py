"""FHIR writes, with the rules for answers to a referral: a Task accepting or declining
a ServiceRequest, and a Communication responding to another (`inResponseTo`).

Everything else goes straight to ResourceService. An answer goes to it too, once linked
to what it answers (mappings.referral_tasks, mappings.referral_responses), so it is
validated, sender-checked, consent- and agreement-checked and logged as any write.

- A Task: its focus ServiceRequest must be visible to the caller (else 404, as for any
  id) and the caller must be that ServiceRequest's performer (else 403). One Task per
  ServiceRequest and owner: a second create is a 409 conflict naming the first, which
  the owner updates (PUT) to change its answer. Its focus never changes.
- A response: the Communication answered must be visible to the caller (else 404) and
  the caller one of its recipients (else 403). When it answers an escalation summary,
  the gateway marks the escalation answered (DatasetService.mark_answered: the summary
  Communication gains its response and is completed, written by the gateway with a
  Provenance naming the response) in the same transaction. The caller never writes the
  escalation itself: only a record's origin does (mappings.authorship).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.configuration.pathways import PathwaysConfig
from gateway.fhir.service import CreateOutcome, ResourceService
from gateway.fhir.storage import validated
from gateway.fhir.store import StoredResource
from gateway.handovers.service import DatasetService, Served
from gateway.platform.clock import utc_now
from gateway.platform.errors import Forbidden, InvalidContent, NotFound
from mappings.answer_links import local_id
from mappings.datasets import EscalationResponse
from mappings.issues import ContentError, Issue, IssueCode
from mappings.referral_responses import (
    answered_id,
    escalation_answer,
    escalation_response,
    is_escalation_summary,
    linked_response,
    service_request_ids,
)
from mappings.referral_tasks import answering_task, focus_id


class ReferralAnswers:
    """The FHIR create and update interactions on behalf of `caller`."""

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

    def create(
        self,
        resource_type: str,
        body: dict[str, Any],
        *,
        if_none_exist: str | None = None,
        as_escalation_response: EscalationResponse | None = None,
    ) -> CreateOutcome:
        if resource_type == "Task":
            self._resources.authorise("Task", Interaction.CREATE)
            task, request_id = self._answering_task(validated("Task", body))
            return self._resources.create(
                "Task",
                task,
                if_none_exist=if_none_exist,
                unique_on=f"focus=ServiceRequest/{request_id}",
            )
        if resource_type == "Communication" and "inResponseTo" in body:
            self._resources.authorise("Communication", Interaction.CREATE)
            response, answered = self._linked_response(validated("Communication", body))
            outcome = self._resources.create("Communication", response, if_none_exist=if_none_exist)
            if outcome.created and is_escalation_summary(answered):
                self._record_on_escalation(answered, outcome.record, as_escalation_response)
            return outcome
        return self._resources.create(resource_type, body, if_none_exist=if_none_exist)

    def update(
        self,
        resource_type: str,
        resource_id: str,
        body: dict[str, Any],
        *,
        if_match: int | None = None,
    ) -> StoredResource:
        # A body whose id is not the URL's is refused by ResourceService.update itself.
        if body.get("id") == resource_id and resource_type == "Task":
            self._resources.authorise("Task", Interaction.UPDATE)
            task, request_id = self._answering_task(validated("Task", body))
            if focus_id(self._read("Task", resource_id)) != request_id:
                raise _refused(
                    "A Task's focus cannot change: create a Task for the other ServiceRequest.",
                    "Task.focus",
                )
            body = {**task, "id": resource_id}
        elif (
            body.get("id") == resource_id
            and resource_type == "Communication"
            and "inResponseTo" in body
        ):
            self._resources.authorise("Communication", Interaction.UPDATE)
            linked, _ = self._linked_response(validated("Communication", body))
            body = {**linked, "id": resource_id}
        return self._resources.update(resource_type, resource_id, body, if_match=if_match)

    # -- Task ---------------------------------------------------------------------------

    def _answering_task(self, task: dict[str, Any]) -> tuple[dict[str, Any], str]:
        try:
            request_id = focus_id(task)
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None
        request = self._read("ServiceRequest", request_id)
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

    # -- Communication responding to another ---------------------------------------------

    def _linked_response(self, response: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            answered_ref = answered_id(response)
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None
        answered = self._read("Communication", answered_ref)
        if "recipient" not in self._resources.roles("Communication", answered_ref):
            raise Forbidden(
                "Only a recipient of a Communication may respond to it.",
                expression="Communication.inResponseTo",
            )
        try:
            return linked_response(response, answered), answered
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None

    def respond_to_escalation(self, service_request_id: str, given: EscalationResponse) -> Served:
        """POST /api/escalations/{id}/responses: the response, given as the dataset's
        `escalation.response`, is stored as the caller's own Communication in response to
        the escalation's summary (the rules of any response apply: the caller must be one
        of its recipients), and the gateway marks the escalation answered."""
        request = self._read("ServiceRequest", service_request_id)
        summary_id = next(
            (
                resource_id
                for info in request.get("supportingInfo", [])
                if (resource_id := local_id(info, "Communication")) is not None
            ),
            None,
        )
        if summary_id is None or not is_escalation_summary(self._read("Communication", summary_id)):
            raise NotFound("No escalation has that id.")
        body = escalation_answer(given, self._caller.ods_code, summary_id, now=self._clock())
        self.create("Communication", body, as_escalation_response=given)
        return self._datasets.dataset(service_request_id, kind="escalation")

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
        request = self._read("ServiceRequest", requests[0])
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

    def _read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        content: dict[str, Any] = json.loads(
            self._resources.read(resource_type, resource_id).content
        )
        return content


def _refused(message: str, expression: str) -> InvalidContent:
    return InvalidContent([Issue(IssueCode.BUSINESS_RULE, message, expression)], business_rule=True)
