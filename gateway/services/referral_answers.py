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
  the response is also recorded on the escalation (DatasetService.record_response: the
  summary Communication gains its response and is completed) in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from gateway.auth.caller import Caller
from gateway.auth.scopes import Interaction
from gateway.configuration.pathways import PathwaysConfig
from gateway.errors import Forbidden, InvalidContent
from gateway.services.datasets import DatasetService
from gateway.services.resources import CreateOutcome, ResourceService, utc_now, validated
from gateway.store.resources import StoredResource
from mappings.issues import ContentError, Issue, IssueCode
from mappings.referral_responses import (
    answered_id,
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
        self, resource_type: str, body: dict[str, Any], *, if_none_exist: str | None = None
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
                self._record_on_escalation(answered, outcome.record)
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

    def _record_on_escalation(self, summary: Mapping[str, Any], stored: StoredResource) -> None:
        """The response becomes the escalation's `escalation.response`, if `summary` is
        the summary Communication of the ServiceRequest it is based on."""
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
        self._datasets.record_response(requests[0], recorded)

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
