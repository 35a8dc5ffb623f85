"""The answers a handover or escalation has had, as its referrer (or anyone party) sees
them: the receivers' Tasks on its ServiceRequest (accepted, declined and why) and the
Communications that respond to its summary. Found by FHIR search, so each is checked for
consent and agreements and logged as any search result is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.handover.referral_responses import ResponseSummary, response_summary
from core.handover.referral_tasks import TaskDecision, task_decision
from core.search.query import PagingLimits, parse_search
from gateway.fhir.service import ResourceService

# A handover has an answer from each receiver and a few responses; the first page (the
# server's largest) is what is shown.
_LOOKUP = PagingLimits(100, 100)


@dataclass(frozen=True, slots=True)
class Answers:
    decisions: tuple[TaskDecision, ...] = ()
    responses: tuple[ResponseSummary, ...] = ()


def find_answers(
    resources: ResourceService, service_request_id: str, communication_id: str
) -> Answers:
    tasks = _search(resources, "Task", "focus", f"ServiceRequest/{service_request_id}")
    responses = _search(
        resources, "Communication", "in-response-to", f"Communication/{communication_id}"
    )
    return Answers(
        decisions=tuple(task_decision(task) for task in tasks),
        responses=tuple(response_summary(response) for response in responses),
    )


def _search(
    resources: ResourceService, resource_type: str, parameter: str, value: str
) -> list[dict[str, Any]]:
    query = parse_search(
        resource_type, [(parameter, value), ("_sort", "_lastUpdated"), ("_total", "none")], _LOOKUP
    )
    page = resources.search(query)
    return [json.loads(record.content) for record in page.matches]
