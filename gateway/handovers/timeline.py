"""GET /api/escalations/{id}/timeline: every step of one escalation, in order, as the
caller may see it: level, when, by whom, to whom, what was shared, its deadline, whether
it was missed (and how late, and what the gateway did), the response, the next action,
and the early warning indicators recorded at each step, with their times."""

from __future__ import annotations

from typing import Any

from core.fhir.dates import format_instant
from core.handover.dataset import EscalationSummary
from gateway.handovers.ladder import level_name
from gateway.handovers.ladder_store import InterfaceDelay, Step
from gateway.handovers.service import DatasetService
from gateway.platform.errors import NotFound


def timeline(datasets: DatasetService, service_request_id: str) -> dict[str, Any]:
    """The timeline of the escalation `service_request_id` is a step of; each step read
    (and access-logged) as the caller, and left out if the caller may not see it."""
    served = datasets.dataset(service_request_id, kind="escalation")  # 404 unless visible
    steps, delays = datasets.escalation_steps(service_request_id)
    if not steps:
        raise NotFound("No escalation has that id.")
    missed = {delay.communication_id: delay for delay in delays}
    entries = []
    for step in steps:
        if step.service_request_id == service_request_id:
            shown = served
        else:
            try:
                shown = datasets.dataset(step.service_request_id, kind="escalation")
            except NotFound:
                continue
        assert isinstance(shown.dataset, EscalationSummary)
        entries.append(_entry(step, shown.dataset, missed.get(step.communication_id)))
    return {"escalation": steps[0].service_request_id, "steps": entries}


def _entry(step: Step, dataset: EscalationSummary, delay: InterfaceDelay | None) -> dict[str, Any]:
    escalation = dataset.escalation
    at = escalation.escalated_at or step.received_at
    entry: dict[str, Any] = {
        "step": step.step,
        "level": step.level,
        "level_name": level_name(step.level),
        "id": step.service_request_id,
        "communication": f"Communication/{step.communication_id}",
        "escalated_at": _instant(at),
        "received_at": _instant(step.received_at),
        "from": dataset.sender.ods,
        "to": dataset.receiver.ods,
        "state": step.state,
        "missed": delay is not None,
    }
    if escalation.escalated_by is not None:
        entry["escalated_by"] = escalation.escalated_by.model_dump(exclude_none=True)
    if escalation.escalated_to is not None:
        entry["escalated_to"] = escalation.escalated_to.model_dump(exclude_none=True)
    if escalation.information_shared:
        entry["information_shared"] = escalation.information_shared
    if step.deadline is not None:
        entry["respond_by"] = _instant(step.deadline)
    if delay is not None:
        entry["missed_by"] = {
            "found_at": _instant(delay.detected_at),
            "gateway_action": delay.action,
        }
        if delay.responded_at is not None:
            late = delay.responded_at - delay.deadline
            entry["missed_by"]["late_response_after_seconds"] = int(late.total_seconds())
    response = escalation.response
    if response is not None:
        entry["response"] = response.model_dump(mode="json", by_alias=True, exclude_none=True)
    if step.answered_at is not None:
        entry["answered_at"] = _instant(step.answered_at)
        entry["answered_by"] = step.answered_by
        # The time to response: from the step's receipt to the response's.
        waited = step.answered_at - step.received_at
        entry["answered_after_seconds"] = max(0, int(waited.total_seconds()))
    if escalation.next_action:
        entry["next_action"] = escalation.next_action
    entry["early_warning_indicators"] = [
        {"indicator": indicator, "recorded_at": _instant(at)}
        for indicator in escalation.early_warning_indicators
    ]
    return entry


def delay_json(delay: InterfaceDelay) -> dict[str, Any]:
    """An interface delay as the API shows it: no patient data."""
    body: dict[str, Any] = {
        "id": delay.id,
        "escalation": delay.escalation_id,
        "step": delay.step,
        "level": delay.level,
        "sender": delay.sender_ods,
        "receiver": delay.receiver_ods,
        "pathway": delay.pathway,
        "locality": delay.locality,
        "priority": delay.priority,
        "deadline": _instant(delay.deadline),
        "found_at": _instant(delay.detected_at),
        "gateway_action": delay.action,
    }
    if delay.responded_at is not None:
        body["responded_at"] = _instant(delay.responded_at)
        body["late_by_seconds"] = int((delay.responded_at - delay.deadline).total_seconds())
    return body


def _instant(moment: Any) -> str:
    return format_instant(moment, fixed_width=False)
