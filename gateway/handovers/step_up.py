"""What the gateway does when an escalation step's deadline passes with no response.

In one transaction, taken by exactly one process (StepStore.take):
- an interface delay is recorded (which step, which level, how late, between whom);
- `on_missed: step-up` with a level above: a new step at that level, made from the
  missed one (the same person, request, risks and what was shared), escalated by the
  gateway on the sender's behalf, stored through the FHIR write path with a Provenance
  naming the missed step as its cause, and delivered like any escalation (queued for
  push receivers, visible to pulls);
- a ladder notice (a Communication) tells the sender what happened; at the top of the
  ladder, or on `notify`, it tells the sender and the receiver that the ladder is
  exhausted, naming the receiver's top contact.
The step-up is shared on the sender's behalf, so the sharing policy decides it as the
sender's: if consent or the agreement no longer permits it, nothing is shared and the
sender is told instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from consent.purposes import Purpose
from core.access_log.event import AuditedClient, AuditFacts, AuditOutcome, EventKind
from core.codes import handover as handover_codes
from core.codes.audit import Subtype
from core.handover.dataset import EscalationSummary
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.resources import to_fhir
from core.handover.ladder_steps import (
    england_time,
    ladder_notice,
    missed_reason,
    stepped_up,
    with_step_marks,
)
from core.handover.workflow_provenance import workflow_provenance
from gateway.access_log.trail import AccessTrail, Who
from gateway.configuration.ladders import Ladder, LadderLevel
from gateway.configuration.models import GatewayConfig
from gateway.exchange.outbox import OutboxStore
from gateway.exchange.queueing import DeliveryQueue
from gateway.fhir.gateway_writes import gateway_service
from gateway.fhir.service import ResourceService
from gateway.fhir.writes import FhirWrites
from gateway.handovers.ladder import EscalationLadder, level_name
from gateway.handovers.ladder_store import DelayStore, InterfaceDelay, Step, StepStore
from gateway.handovers.service import stored_escalation
from gateway.handovers.store import Submission, SubmissionStore
from gateway.platform.clock import IdSource, new_id
from gateway.platform.errors import SharingRefused
from gateway.sharing.requester import Requester

STEP_UP = "step-up"
NOTIFY = "notify"


@dataclass(frozen=True, slots=True)
class Acted:
    """What was done about one missed step."""

    missed: Step
    action: str  # step-up | notify
    next_step: Step | None
    events: list[AuditFacts]


class LadderActions:
    def __init__(
        self,
        connection: Connection,
        config: GatewayConfig,
        *,
        gateway_url: str,
        worker: str,
        clock: Callable[[], datetime],
        new_id: IdSource = new_id,
    ) -> None:
        self._connection = connection
        self._config = config
        self._gateway_url = gateway_url
        self._worker = worker
        self._clock = clock
        self._new_id = new_id
        self._steps = StepStore(connection)
        self._delays = DelayStore(connection)
        self._ladder = EscalationLadder(self._steps, self._delays, config.ladders)
        self._submissions = SubmissionStore(connection)
        self._deliveries = DeliveryQueue(
            OutboxStore(connection), config.endpoints, gateway_url, new_id=new_id
        )
        # The gateway's reads (no caller): what it steps up, it must see whole.
        self._reader = self._service(None, clock())

    def act(self, communication_id: str) -> Acted | None:
        """Act on one due step, if this process takes it (else None)."""
        now = self._clock()
        step = self._steps.take(communication_id, now, self._worker)
        if step is None or step.deadline is None:
            return None
        ladder = self._ladder.ladder_for(step.receiver_ods, step.pathway, step.locality)
        level = ladder.level(step.level) if ladder is not None else None
        above = ladder.above(step.level) if ladder is not None else None
        dataset = stored_escalation(self._reader, step.service_request_id)
        reason = missed_reason(step.level, england_time(step.deadline))
        trail = AccessTrail(EventKind.APPLICATION, Subtype.ESCALATION_LADDER, "C")
        next_step: Step | None = None
        refused = False
        if level is not None and level.on_missed == STEP_UP and above is not None:
            try:
                with self._connection.begin_nested():
                    next_step = self._step_up(step, dataset, above, reason, now, trail)
            except SharingRefused:
                # Consent or the agreement no longer permits sharing it: the sender is
                # told, and no step is taken on its behalf.
                refused = True
        action = STEP_UP if next_step is not None else NOTIFY
        self._delays.add(
            InterfaceDelay(
                id=self._new_id(),
                communication_id=step.communication_id,
                service_request_id=step.service_request_id,
                escalation_id=step.escalation_id,
                step=step.step,
                level=step.level,
                sender_ods=step.sender_ods,
                receiver_ods=step.receiver_ods,
                pathway=step.pathway,
                locality=step.locality,
                priority=step.priority,
                deadline=step.deadline,
                detected_at=now,
                action=action,
            )
        )
        requester = _requester(step)
        if next_step is not None:
            kind = "stepped-up"
        else:
            kind = "step-up-refused" if refused else "ladder-exhausted"
        notice = self._notice(step, dataset, ladder, next_step, reason, now, kind=kind)
        try:
            # Told to the receiver too, the notice shares the person with it on the
            # sender's behalf: decided as the sender's, as the step-up is.
            with self._connection.begin_nested():
                written = self._writer(requester, now).create_mapped([notice])
        except SharingRefused:
            only_sender = self._notice(
                step, dataset, ladder, next_step, reason, now, kind=kind, sender_only=True
            )
            written = self._writer(requester, now).create_mapped([only_sender])
        for record in written:
            trail.saw(record)
        sender = AuditedClient(step.sender_client, step.sender_ods, None)
        who = Who(sender, None, (), None, step.escalation_id, self._gateway_url)
        description = (
            f"Escalation step {step.step} ({step.level}) to {step.receiver_ods} not answered "
            f"by its deadline: {'stepped up' if next_step else 'ladder notice sent'}"
        )
        return Acted(step, action, next_step, trail.events(who, AuditOutcome.SUCCESS, description))

    def _step_up(
        self,
        step: Step,
        dataset: EscalationSummary,
        above: LadderLevel,
        reason: str,
        now: datetime,
        trail: AccessTrail,
    ) -> Step:
        requester = _requester(step)
        contact = above.contact.name if above.contact is not None else level_name(above.level)
        ids = ResourceIds(
            service_request=self._new_id(),
            communication=self._new_id(),
            provenance=self._new_id(),
            flags=tuple(self._new_id() for _ in dataset.key_risks),
        )
        timing = dataset.time_sensitivity
        respond_by = now + above.within(timing.priority if timing is not None else None)
        made = stepped_up(
            dataset,
            level=above.level,
            contact=contact,
            external_id=f"step-up:{ids.service_request}",
            now=now,
            respond_by=respond_by,
            reason=reason,
        )
        original = self._submissions.by_service_request(step.service_request_id)
        gaps = original.gaps if original is not None else ()
        digest = hashlib.sha256(made.model_dump_json(by_alias=True).encode()).hexdigest()
        resources = to_fhir(made, ids, received_at=now, dataset_sha256=digest, gaps=gaps)
        plan = self._ladder.plan(made, now, previous=step, deadline=respond_by)
        communication = with_step_marks(
            resources.communication, deadline=plan.deadline, previous_step=step.communication_id
        )
        missed = self._reader.read("Communication", step.communication_id)
        targets = [resources.service_request, *resources.flags, communication]
        provenance = workflow_provenance(
            ids.provenance,
            target=_versioned(resources.service_request, 1),
            more_targets=[_versioned(resource, 1) for resource in targets[1:]],
            cause=f"Communication/{missed.id}/_history/{missed.version_id}",
            custodian_ods=step.sender_ods,
            recorded=now,
            changed=communication,
            activity=handover_codes.ACTIVITY_CREATE,
        )
        writer = self._writer(requester, now)
        for record in writer.create_mapped([*targets, provenance]):
            trail.saw(record)
        self._submissions.add(
            Submission(
                sender_ods=step.sender_ods,
                external_id=made.external_id,
                kind="escalation",
                request_id=None,
                body_sha256=digest,
                service_request_id=ids.service_request,
                communication_id=ids.communication,
                received_at=now,
                gaps=gaps,
            )
        )
        next_step = self._ladder.register(
            plan,
            made,
            service_request_id=ids.service_request,
            communication_id=ids.communication,
            requester=requester,
            received_at=now,
        )
        stored = replace(resources, communication=communication, provenance=provenance)
        self._deliveries.enqueue(made, stored, requester, step.escalation_id, now)
        return next_step

    def _notice(
        self,
        step: Step,
        dataset: EscalationSummary,
        ladder: Ladder | None,
        next_step: Step | None,
        reason: str,
        now: datetime,
        *,
        kind: str,
        sender_only: bool = False,
    ) -> dict[str, Any]:
        """The notice of what was done: `kind` stepped-up, step-up-refused (sharing on
        the sender's behalf not permitted) or ladder-exhausted."""
        recipients = [step.sender_ods]
        above = ladder.above(step.level) if ladder is not None else None
        if kind == "stepped-up" and above is not None and next_step is not None:
            contact = above.contact
            reach = f"{contact.name}, {contact.telephone}" if contact else level_name(above.level)
            due = england_time(next_step.deadline) if next_step.deadline else "its deadline"
            text = (
                f"{reason}. The gateway stepped the escalation up to the "
                f"{level_name(above.level).lower()} level ({reach}), who must respond by {due}."
            )
        elif kind == "step-up-refused":
            text = (
                f"{reason}. It was not stepped up: sharing it on your behalf is no longer "
                "permitted (consent or the data-sharing agreement)."
            )
        else:
            top = ladder.top.contact if ladder is not None else None
            call = f" Call {top.name} on {top.telephone} now." if top is not None else ""
            text = f"{reason}. No further step remains on the escalation ladder.{call}"
            if not sender_only:
                recipients = list(dict.fromkeys([step.sender_ods, step.receiver_ods]))
        return ladder_notice(
            dataset,
            notice_id=self._new_id(),
            kind=kind,
            missed_step=step.communication_id,
            next_step=next_step.communication_id if next_step is not None else None,
            service_request_id=step.service_request_id,
            recipients=recipients,
            text=text,
            now=now,
        )

    def _service(self, requester: Requester | None, now: datetime) -> ResourceService:
        # A step-up and its notices notify Subscriptions as any write does, in this
        # transaction (and its savepoint: a step-up refused queues nothing).
        return gateway_service(
            self._connection, self._config, requester, clock=self._clock, new_id=self._new_id
        )

    def _writer(self, requester: Requester | None, now: datetime) -> FhirWrites:
        return FhirWrites(self._service(requester, now))


def _requester(step: Step) -> Requester:
    """The sender of the step's escalation, on whose behalf the gateway acts."""
    return Requester(
        organisation=step.sender_ods,
        client_id=step.sender_client,
        role=step.sender_role,
        purpose=Purpose(step.purpose),
    )


def _versioned(resource: dict[str, Any], version: int) -> str:
    return f"{resource['resourceType']}/{resource['id']}/_history/{version}"
