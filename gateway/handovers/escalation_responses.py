"""POST /api/escalations/{id}/responses: a response given in the dataset's own terms
(`escalation.response`), written as the caller's own Communication in response to the
escalation's summary, through the one FHIR write path: the rules of any response apply
(gateway.handovers.referral_answers: the caller must be one of its recipients), and the
gateway marks the escalation answered with the response as given."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.handover.answer_links import local_id
from core.handover.dataset import EscalationResponse
from core.handover.referral_responses import escalation_answer, is_escalation_summary
from gateway.auth.caller import Caller
from gateway.fhir.writes import FhirWrites
from gateway.handovers.referral_answers import GivenResponse
from gateway.handovers.service import DatasetService, Served
from gateway.platform.clock import utc_now
from gateway.platform.errors import NotFound


class EscalationResponses:
    def __init__(
        self,
        writes: FhirWrites,
        datasets: DatasetService,
        caller: Caller,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._writes = writes
        self._datasets = datasets
        self._caller = caller
        self._clock = clock

    def respond(self, service_request_id: str, given: EscalationResponse) -> Served:
        """Record `given` on the escalation `service_request_id`; the escalation as the
        caller is now shown it."""
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
        self._writes.create("Communication", body, context=GivenResponse(given))
        return self._datasets.dataset(service_request_id, kind="escalation")

    def _read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        record = self._writes.resources.read(resource_type, resource_id)
        content: dict[str, Any] = json.loads(record.content)
        return content
