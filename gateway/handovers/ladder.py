"""Each escalation step's place on its receiver's ladder: its deadline when it is
received, the step it continues, and where it stands when someone reads it.

An escalation the sender sends is step 1 of a new escalation, unless its
`escalation.related_referral` names an earlier step of the same sender's to the same
receiver: then it is that escalation's next step, and the earlier step's clock stops
(superseded, not missed: the sender climbed the ladder itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.fhir.patients import person_of
from core.handover.dataset import EscalationSummary
from core.handover.ladder_position import LadderContact, LadderPosition
from core.handover.ladder_steps import step_deadline
from gateway.configuration.endpoints import Contact
from gateway.configuration.ladders import Ladder, Ladders
from gateway.handovers.ladder_store import (
    ANSWERED,
    MISSED,
    OPEN,
    UNWATCHED,
    DelayStore,
    InterfaceDelay,
    Step,
    StepStore,
)
from gateway.sharing.requester import Requester


@dataclass(frozen=True, slots=True)
class StepPlan:
    """What the ladder says of a step about to be stored."""

    deadline: datetime | None
    previous: Step | None  # the step this one continues, if any

    @property
    def previous_communication(self) -> str | None:
        return self.previous.communication_id if self.previous is not None else None


class EscalationLadder:
    def __init__(self, steps: StepStore, delays: DelayStore, ladders: Ladders) -> None:
        self._steps = steps
        self._delays = delays
        self._ladders = ladders

    def answered(self, communication_id: str, at: datetime, by: str) -> None:
        """A response to a step stops its clock; if the step had already been missed,
        the delay records when the late response came."""
        before = self._steps.answered(communication_id, at, by)
        if before is not None and before.state == MISSED:
            self._delays.responded(communication_id, at)

    def plan(
        self,
        dataset: EscalationSummary,
        received_at: datetime,
        *,
        previous: Step | None = None,
        deadline: datetime | None = None,
    ) -> StepPlan:
        """The deadline of `dataset`'s step (unless given) and the step it continues
        (unless given): the one its related_referral names, if that is an escalation
        step from the same sender to the same receiver."""
        if previous is None:
            previous = self._continued(dataset)
        if deadline is None:
            ladder = self.ladder_for(dataset.receiver.ods, dataset.pathway, dataset.locality)
            level = ladder.level(dataset.escalation.level) if ladder is not None else None
            timing = dataset.time_sensitivity
            priority = timing.priority if timing is not None else None
            within = level.within(priority) if level is not None else None
            respond_by = timing.respond_by if timing is not None else None
            deadline = step_deadline(received_at, respond_by, within)
        return StepPlan(deadline, previous)

    def register(
        self,
        plan: StepPlan,
        dataset: EscalationSummary,
        *,
        service_request_id: str,
        communication_id: str,
        requester: Requester,
        received_at: datetime,
    ) -> Step:
        """Record the stored step, with its deadline, in the same transaction."""
        previous = plan.previous
        if previous is not None:
            self._steps.supersede(previous.communication_id)
        timing = dataset.time_sensitivity
        step = Step(
            communication_id=communication_id,
            service_request_id=service_request_id,
            escalation_id=previous.escalation_id if previous is not None else service_request_id,
            step=previous.step + 1 if previous is not None else 1,
            level=dataset.escalation.level,
            patient=person_of(dataset.patient),
            sender_ods=dataset.sender.ods,
            receiver_ods=dataset.receiver.ods,
            pathway=dataset.pathway,
            locality=dataset.locality,
            priority=timing.priority if timing is not None else None,
            sender_client=requester.client_id,
            sender_role=requester.role,
            purpose=requester.purpose.value,
            received_at=received_at,
            deadline=plan.deadline,
            state=OPEN if plan.deadline is not None else UNWATCHED,
        )
        self._steps.add(step)
        return step

    def escalation_of(self, service_request_id: str) -> tuple[list[Step], list[InterfaceDelay]]:
        step = self._steps.by_service_request(service_request_id)
        if step is None:
            return [], []
        escalation = step.escalation_id
        return self._steps.of_escalation(escalation), self._delays.of_escalation(escalation)

    def delays_involving(
        self,
        ods_code: str | None,
        *,
        receiver: str | None,
        pathway: str | None,
        since: datetime | None,
    ) -> list[InterfaceDelay]:
        return self._delays.involving(ods_code, receiver=receiver, pathway=pathway, since=since)

    def escalations_about(self, patient: str, sender_ods: str, since: datetime) -> int:
        """How many escalations `sender_ods` has sent about `patient` since `since`."""
        return self._steps.count_escalations(patient, sender_ods, since)

    def ladder_for(self, receiver: str, pathway: str, locality: str | None) -> Ladder | None:
        return self._ladders.for_escalation(receiver, pathway, locality)

    def position(self, service_request_id: str) -> LadderPosition | None:
        """Where the step made from `service_request_id` stands on its ladder, names not
        codes, for the summary; None if it is not an escalation step."""
        step = self._steps.by_service_request(service_request_id)
        if step is None:
            return None
        ladder = self.ladder_for(step.receiver_ods, step.pathway, step.locality)
        level = ladder.level(step.level) if ladder is not None else None
        above = ladder.above(step.level) if ladder is not None else None
        steps_up = level is not None and level.on_missed == "step-up" and above is not None
        return LadderPosition(
            level=level_name(step.level),
            contact=_contact(level.contact) if level is not None else None,
            respond_by=step.deadline,
            answered=step.state == ANSWERED or step.answered_at is not None,
            missed=step.state == MISSED,
            next_level=level_name(above.level) if steps_up and above is not None else None,
            next_contact=_contact(above.contact) if steps_up and above is not None else None,
        )

    def _continued(self, dataset: EscalationSummary) -> Step | None:
        related = dataset.escalation.related_referral
        if related is None:
            return None
        earlier = self._steps.by_service_request(related)
        if earlier is None:
            return None
        if earlier.sender_ods != dataset.sender.ods or earlier.receiver_ods != dataset.receiver.ods:
            return None
        return earlier


# A ladder level as people say it (the code system's displays say "... escalation").
_LEVEL_NAMES = {"front-line": "Front-line", "manager": "Manager", "senior": "Senior"}


def level_name(level: str) -> str:
    return _LEVEL_NAMES.get(level, level)


def _contact(contact: Contact | None) -> LadderContact | None:
    if contact is None:
        return None
    return LadderContact(contact.name, contact.telephone)
