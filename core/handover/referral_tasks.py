"""A Task that answers a referral: the receiving organisation accepts or declines the
ServiceRequest (declining with a coded reason), then may report it in progress and done.

    Task.focus          the ServiceRequest answered, as ServiceRequest/<id> (required)
    Task.basedOn        the same ServiceRequest (filled in when left out)
    Task.status         accepted | rejected | in-progress | completed
    Task.statusReason   when, and only when, rejected: one coding in the gateway's
                        decline-reason CodeSystem with one of the deployment's codes
                        (pathways.yaml); its display is filled in from there
    Task.owner          the receiver: the party rule makes it the caller (core.fhir.parties)
    Task.requester      the ServiceRequest's requester (filled in when left out)
    Task.for            the ServiceRequest's subject (filled in when left out)

Pure: checked against the ServiceRequest and the configured reasons, which the shell
reads; every problem is reported at once, naming elements, never their values.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.codes import handover as handover_codes
from core.fhir.issues import ContentError, Issue, IssueCode
from core.fhir.parties import party_references
from core.handover.answer_links import local_id, same_subject, with_data_categories

ANSWER_STATUSES = ("accepted", "rejected", "in-progress", "completed")
DECLINED = "rejected"


def focus_id(task: Mapping[str, Any]) -> str:
    """The id of the ServiceRequest the Task answers; ContentError when it names none."""
    resource_id = local_id(task.get("focus"), "ServiceRequest")
    if resource_id is None:
        raise ContentError(
            [
                _issue(
                    "Task.focus must reference the ServiceRequest the Task answers, as "
                    "ServiceRequest/<id> (the id the gateway gave it).",
                    "Task.focus",
                )
            ],
            business_rule=True,
        )
    return resource_id


def answering_task(
    task: Mapping[str, Any],
    request: Mapping[str, Any],
    decline_reasons: Mapping[str, str],
) -> dict[str, Any]:
    """The Task as it will be stored (links filled in), or ContentError listing every
    rule it breaks. `decline_reasons` maps each configured code to its display."""
    answer = copy.deepcopy(dict(task))
    focus = f"ServiceRequest/{focus_id(answer)}"
    issues = _based_on_issues(answer, focus)
    issues += _status_issues(answer, decline_reasons)
    issues += _requester_issues(answer, request)
    issues += same_subject("Task", answer, "for", "ServiceRequest", request, "subject")
    if issues:
        raise ContentError(issues, business_rule=True)
    with_data_categories(answer, request)
    return answer


@dataclass(frozen=True, slots=True)
class TaskDecision:
    """What the referrer is shown of a Task answering its referral."""

    task_id: str
    status: str
    decision: str  # accepted | declined
    reason_code: str | None
    reason_display: str | None
    by: str | None  # the owner's ODS code, or its Organization reference
    at: str | None  # when the answer was recorded (meta.lastUpdated)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "task": f"Task/{self.task_id}",
            "status": self.status,
            "decision": self.decision,
            "by": self.by,
            "at": self.at,
        }
        if self.reason_code is not None:
            body["reason"] = {
                "system": handover_codes.DECLINE_REASON_SYSTEM,
                "code": self.reason_code,
                "display": self.reason_display,
            }
        return body


def task_decision(task: Mapping[str, Any]) -> TaskDecision:
    status = str(task.get("status", ""))
    coding = _decline_coding(task)
    owners = [
        reference.ods_code or f"Organization/{reference.organization_id}"
        for reference in party_references("Task", task)
        if reference.basis == "owner"
    ]
    meta = task.get("meta")
    return TaskDecision(
        task_id=str(task.get("id", "")),
        status=status,
        decision="declined" if status == DECLINED else "accepted",
        reason_code=_text(coding.get("code")) if coding else None,
        reason_display=_text(coding.get("display")) if coding else None,
        by=owners[0] if owners else None,
        at=_text(meta.get("lastUpdated")) if isinstance(meta, Mapping) else None,
    )


def _based_on_issues(task: dict[str, Any], focus: str) -> list[Issue]:
    based_on = task.get("basedOn")
    if based_on is None:
        task["basedOn"] = [{"reference": focus}]
        return []
    if (
        isinstance(based_on, list)
        and based_on
        and all(isinstance(item, Mapping) and item.get("reference") == focus for item in based_on)
    ):
        return []
    return [
        _issue(
            "Task.basedOn, when given, must name only the ServiceRequest in Task.focus.",
            "Task.basedOn",
        )
    ]


def _status_issues(task: dict[str, Any], decline_reasons: Mapping[str, str]) -> list[Issue]:
    status = task.get("status")
    if status not in ANSWER_STATUSES:
        return [
            _issue(
                "Task.status must be one of " + ", ".join(ANSWER_STATUSES) + " for a Task "
                "that answers a referral (rejected declines it).",
                "Task.status",
            )
        ]
    reason = task.get("statusReason")
    if status != DECLINED:
        if reason is None:
            return []
        return [_issue("Task.statusReason is given only when the status is rejected.", _REASON)]
    allowed = ", ".join(decline_reasons)
    wanted = (
        f"one of this deployment's decline reasons (GET /api/decline-reasons: {allowed}), "
        f"as one coding in {handover_codes.DECLINE_REASON_SYSTEM}"
    )
    if reason is None:
        return [_issue(f"A rejected Task needs Task.statusReason: {wanted}.", _REASON)]
    codings = reason.get("coding") if isinstance(reason, Mapping) else None
    ours = [
        coding
        for coding in (codings if isinstance(codings, list) else [])
        if isinstance(coding, dict) and coding.get("system") == handover_codes.DECLINE_REASON_SYSTEM
    ]
    if len(ours) != 1 or ours[0].get("code") not in decline_reasons:
        return [_issue(f"Task.statusReason must be {wanted}.", _REASON)]
    configured = decline_reasons[str(ours[0]["code"])]
    if ours[0].setdefault("display", configured) != configured:
        return [
            _issue(
                "Task.statusReason.coding.display must be the configured display of its "
                "code (or be left out: the gateway fills it in).",
                _REASON,
            )
        ]
    return []


def _requester_issues(task: dict[str, Any], request: Mapping[str, Any]) -> list[Issue]:
    if task.get("requester") is None:
        if request.get("requester") is not None:
            task["requester"] = copy.deepcopy(request["requester"])
        return []
    ours = {_named(r) for r in party_references("Task", task) if r.basis == "requester"}
    theirs = {
        _named(r) for r in party_references("ServiceRequest", request) if r.basis == "requester"
    }
    if ours and ours <= theirs:
        return []
    return [
        _issue(
            "Task.requester must name the ServiceRequest's requester as the ServiceRequest "
            "does (or be left out: the gateway fills it in).",
            "Task.requester",
        )
    ]


def _named(reference: Any) -> tuple[str | None, str | None]:
    return reference.ods_code, reference.organization_id


def _decline_coding(task: Mapping[str, Any]) -> Mapping[str, Any] | None:
    reason = task.get("statusReason")
    codings = reason.get("coding") if isinstance(reason, Mapping) else None
    for coding in codings if isinstance(codings, list) else []:
        if (
            isinstance(coding, Mapping)
            and coding.get("system") == handover_codes.DECLINE_REASON_SYSTEM
        ):
            return coding
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_REASON = "Task.statusReason"


def _issue(message: str, expression: str) -> Issue:
    return Issue(IssueCode.BUSINESS_RULE, message, expression)
