"""Golden files for the safeguarding action mapping: golden/action.request.json (an API
request body) in, golden/action.fhir.json out: the Task as raised, each next version as
the owner moves it on (and as the requester cancels it), the Provenance of a move and a
partner contact's Communication, under fixed ids and times.

Regenerate after an intended change, then review the diff before committing:

    .venv/bin/python -m tests.core.safeguarding.action_golden
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.safeguarding.actions import ActionRequest, action_task
from core.safeguarding.contacts import ContactRequest, contact_communication
from core.safeguarding.transitions import StatusChange, move_provenance, next_task

GOLDEN = Path(__file__).resolve().parent / "golden"
RAISED_AT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
BY = {"name": "Alex Rowe", "role": "Named nurse for safeguarding adults"}


def request_path() -> Path:
    return GOLDEN / "action.request.json"


def fhir_path() -> Path:
    return GOLDEN / "action.fhir.json"


def render() -> dict[str, Any]:
    request = ActionRequest.model_validate(json.loads(request_path().read_bytes()))
    raised = action_task(request, task_id="task-1", requester_ods="AZZ", now=RAISED_AT)
    versions = {"raised": raised}
    current = raised
    at = RAISED_AT
    for status, extra in (
        ("accepted", {}),
        ("in-progress", {}),
        (
            "completed",
            {
                "outcome": "Strategy discussion held; the local authority leads the enquiry.",
                "evidence": "Minutes filed in the Trust's safeguarding record.",
            },
        ),
    ):
        at += timedelta(hours=1)
        change = StatusChange.model_validate({"status": status, "by": BY, **extra})
        current = next_task(current, change, acting_ods="RZZ", now=at)
        versions[status] = current
    cancel = StatusChange.model_validate(
        {"status": "cancelled", "by": {"name": "Sam Okafor"}, "reason": "Raised in error."}
    )
    versions["cancelled"] = next_task(raised, cancel, acting_ods="AZZ", now=RAISED_AT)
    provenance = move_provenance(
        "prov-1",
        target="Task/task-1/_history/2",
        cause="Task/task-1/_history/1",
        requester_ods="AZZ",
        acting_ods="RZZ",
        by=StatusChange.model_validate({"status": "accepted", "by": BY}).by,
        recorded=RAISED_AT + timedelta(hours=1),
        changed=versions["accepted"],
    )
    contact = ContactRequest.model_validate(
        {
            "kind": "strategy-meeting",
            "contacted": "Local authority adult safeguarding duty team",
            "at": "2026-11-25T10:30:00Z",
            "agreed": "Strategy meeting on Thursday at 10:00; the Trust's named nurse attends.",
            "by": BY,
        }
    )
    communication = contact_communication(
        contact, communication_id="comm-1", task=raised, sender_ods="RZZ", recipient_ods="AZZ"
    )
    return {"tasks": versions, "provenance": provenance, "contact": communication}


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    fhir_path().write_text(dumps(render()), encoding="utf-8")


if __name__ == "__main__":
    main()
