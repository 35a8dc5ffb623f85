"""The write rules for answers to a referral, registered with the one write path and
run on the real services and stores on both databases (no app): a Task is its
ServiceRequest's performer's, linked to it, one per ServiceRequest, its focus fixed; a
response is a recipient's, addressed back to the answered Communication's sender."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from core.search.query import PagingLimits
from gateway.auth.caller import Caller
from gateway.auth.scopes import ScopeSet
from gateway.configuration.loader import load_config
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.fhir.writes import FhirWrites, WriteRules
from gateway.handovers.referral_answers import register_answer_rules
from gateway.handovers.service import DatasetService
from gateway.handovers.store import SubmissionStore
from gateway.platform.database import Database
from gateway.platform.errors import Conflict, Forbidden, InvalidContent, NotFound
from tests.builders import (
    ODS,
    PATIENT_NHS_NUMBER,
    PROVIDER_ODS,
    TRUST_ODS,
    communication,
    ods_reference,
    service_request,
)

LIMITS = PagingLimits(20, 100)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
PATHWAYS = load_config(Path(__file__).parents[2] / "config" / "demo").pathways


def _caller(ods: str, role: str) -> Caller:
    return Caller(
        client_id=f"client-{ods}",
        ods_code=ods,
        role=role,
        scopes=ScopeSet.parse(["system/*.cruds"]),
        purpose_of_use="direct-care",
    )


PROVIDER = _caller(PROVIDER_ODS, "provider-epr")
TRUST = _caller(TRUST_ODS, "trust-crisis-system")


def _writes(connection: Connection, caller: Caller) -> FhirWrites:
    resources = ResourceService(ResourceStore(connection), LIMITS, caller=caller)
    organisations = frozenset({PROVIDER_ODS, TRUST_ODS})
    datasets = DatasetService(
        resources, SubmissionStore(connection), PATHWAYS, organisations, caller
    )
    rules = WriteRules()
    register_answer_rules(rules, resources, datasets, PATHWAYS, {}, caller, clock=lambda: NOW)
    return FhirWrites(resources, rules)


def _task(request_id: str, owner: str = TRUST_ODS) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": "accepted",
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{request_id}"},
        "owner": ods_reference(owner),
    }


def _referral(database: Database) -> str:
    with database.write() as connection:
        return _writes(connection, PROVIDER).create("ServiceRequest", service_request()).record.id


def test_the_performers_task_is_linked_to_the_referral_and_one_per_referral(
    database: Database,
) -> None:
    request_id = _referral(database)
    with database.write() as connection:
        stored = _writes(connection, TRUST).create("Task", _task(request_id)).record
    task = json.loads(stored.content)
    assert task["basedOn"] == [{"reference": f"ServiceRequest/{request_id}"}]
    assert task["requester"]["identifier"] == {"system": ODS, "value": PROVIDER_ODS}
    assert task["for"]["identifier"]["value"] == PATIENT_NHS_NUMBER

    with database.write() as connection, pytest.raises(Conflict, match=f"Task/{stored.id}"):
        _writes(connection, TRUST).create("Task", _task(request_id))


def test_only_the_performer_answers_a_referral_it_can_see(database: Database) -> None:
    request_id = _referral(database)
    with database.write() as connection:
        # The referrer sends a Task of its own (it is the Task's owner): not its to answer.
        with pytest.raises(Forbidden, match="performer"):
            _writes(connection, PROVIDER).create("Task", _task(request_id, PROVIDER_ODS))
        with pytest.raises(NotFound):
            _writes(connection, TRUST).create("Task", _task("no-such-referral"))


def test_a_tasks_focus_never_changes(database: Database) -> None:
    first, other = _referral(database), _referral(database)
    with database.write() as connection:
        stored = _writes(connection, TRUST).create("Task", _task(first)).record
    moved = {**_task(other), "id": stored.id}
    with database.write() as connection, pytest.raises(InvalidContent) as refused:
        _writes(connection, TRUST).update("Task", stored.id, moved)
    assert refused.value.issues[0].expression == "Task.focus"


def _answered(database: Database) -> str:
    sent = {**communication(category="handover"), "recipient": [ods_reference(TRUST_ODS)]}
    with database.write() as connection:
        return _writes(connection, PROVIDER).create("Communication", sent).record.id


def _response(answered_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Communication",
        "status": "completed",
        "inResponseTo": [{"reference": f"Communication/{answered_id}"}],
        "sender": ods_reference(TRUST_ODS),
        "sent": "2026-11-30T11:00:00Z",
        "payload": [{"contentString": "Seen today."}],
    }


def test_a_recipients_response_is_addressed_back_to_the_sender(database: Database) -> None:
    answered_id = _answered(database)
    with database.write() as connection:
        stored = _writes(connection, TRUST).create("Communication", _response(answered_id))
    response = json.loads(stored.record.content)
    assert response["recipient"] == [ods_reference(PROVIDER_ODS)]
    assert response["subject"]["identifier"]["value"] == PATIENT_NHS_NUMBER


def test_only_a_recipient_responds(database: Database) -> None:
    answered_id = _answered(database)
    own = {**_response(answered_id), "sender": ods_reference(PROVIDER_ODS)}
    with database.write() as connection, pytest.raises(Forbidden, match="recipient"):
        _writes(connection, PROVIDER).create("Communication", own)
