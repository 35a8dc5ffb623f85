"""Receiving the handover minimum dataset and escalation summaries, and serving them back.

A dataset is read (core.handover.dataset_input), checked against its sender, deduplicated by
the sender's id, checked against the configured rules and the pathway's referral
checklist, mapped to FHIR (core.handover.fhir) and stored through the one FHIR write path
(gateway.fhir.writes), so every resource passes the same sender, consent and agreement
checks and access log as any FHIR write, in the request's one transaction. Nothing is
stored unless all of it is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.codes import handover as handover_codes
from core.codes import sharing as sharing_codes
from core.fhir.invisible_characters import dataset_identifier_issues
from core.fhir.issues import ContentError, Issue, IssueCode
from core.fhir.patients import person_of
from core.fhir.validation import check_safe_content
from core.handover.checklist import Completeness, check_completeness, completeness_issues
from core.handover.dataset import EscalationResponse, EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from core.handover.dataset_rules import rule_issues
from core.handover.fhir.communication import communication as mapped_communication
from core.handover.fhir.dataset import from_fhir
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.resources import DatasetResources, to_fhir
from core.handover.ladder_position import LadderPosition
from core.handover.ladder_steps import carrying, step_marks, tagged, with_step_marks
from core.handover.messages import ReferralMessage, read_message
from core.handover.workflow_provenance import workflow_provenance
from gateway.auth.caller import Caller
from gateway.configuration.pathways import PathwaysConfig
from gateway.exchange.deliveries import Delivery
from gateway.exchange.queueing import DeliveryQueue
from gateway.fhir.patients import LocalSystems
from gateway.fhir.service import ResourceService
from gateway.fhir.store import StoredResource
from gateway.fhir.writes import FhirWrites
from gateway.handovers.answer_lookup import Answers, find_answers
from gateway.handovers.ladder import EscalationLadder, StepPlan
from gateway.handovers.ladder_store import InterfaceDelay, Step
from gateway.handovers.reviews import Review, ReviewStore
from gateway.handovers.store import Submission, SubmissionStore
from gateway.platform.clock import IdSource, new_id, utc_now
from gateway.platform.errors import Forbidden, InvalidContent, NotFound
from gateway.sharing.requester import Requester

Dataset = Handover | EscalationSummary


class DuplicateSubmission(InvalidContent):
    """The same dataset again (same sender and id, or the same request id, same bytes):
    409 duplicate, which BaRS senders treat as delivered."""

    def __init__(self, submission: Submission) -> None:
        super().__init__(
            [
                Issue(
                    IssueCode.DUPLICATE,
                    "This dataset was already received (same sender and external_id, "
                    f"same content) as ServiceRequest/{submission.service_request_id}; "
                    "nothing new was stored.",
                    "external_id",
                )
            ]
        )
        self.status = 409
        self.code = IssueCode.DUPLICATE
        self.submission = submission


@dataclass(frozen=True, slots=True)
class Received:
    submission: Submission
    resources: DatasetResources
    completeness: Completeness
    # A repeat escalation: how many within how many days, and the manager review it
    # opened (or the one already open for the person).
    repeats: tuple[int, int] | None = None
    review: Review | None = None


@dataclass(frozen=True, slots=True)
class Served:
    dataset: Dataset
    submission: Submission | None
    # An agreement withholds free text from the caller: the dataset shown is partial.
    withheld: bool = False
    # Where its deliveries to receivers' systems are.
    deliveries: tuple[Delivery, ...] = ()
    # The receivers' answers: accept/decline Tasks and responding Communications.
    answers: Answers = field(default_factory=Answers)
    # An escalation step's place on its receiver's ladder.
    ladder: LadderPosition | None = None


class DatasetService:
    def __init__(
        self,
        resources: ResourceService,
        submissions: SubmissionStore,
        pathways: PathwaysConfig,
        organisations: frozenset[str],
        caller: Caller,
        *,
        local_systems: LocalSystems | None = None,
        writes: FhirWrites | None = None,
        deliveries: DeliveryQueue | None = None,
        workflow: FhirWrites | None = None,
        ladder: EscalationLadder | None = None,
        reviews: ReviewStore | None = None,
        correlation_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        new_id: IdSource = new_id,
    ) -> None:
        # The caller's reads; its writes, where this service receives datasets.
        self._resources = resources
        self._writes = writes
        self._submissions = submissions
        self._pathways = pathways
        self._organisations = organisations
        self._caller = caller
        # Each organisation's local patient identifier systems (organisations.yaml).
        self._local_systems: LocalSystems = local_systems or {}
        self._deliveries = deliveries
        # The gateway's own writer (no caller), in the same transaction: what its workflow
        # changes on a record because of what another organisation did (mark_answered).
        self._workflow = workflow
        # Each escalation step's deadline on its receiver's ladder.
        self._ladder = ladder
        self._reviews = reviews
        self._correlation_id = correlation_id
        self._clock = clock
        self._new_id = new_id

    def receive_json(
        self, body: Mapping[str, Any], raw: bytes, *, kind: str, request_id: str | None
    ) -> Received:
        """A dataset sent as JSON to the endpoint for `kind` (handover or escalation)."""
        hidden = dataset_identifier_issues(body)
        if hidden:
            raise InvalidContent(hidden, business_rule=True)
        try:
            dataset = parse_dataset(body)
        except ContentError as error:
            raise InvalidContent(error.issues) from None
        if dataset.dataset != kind:
            raise InvalidContent(
                [
                    Issue(
                        IssueCode.VALUE,
                        f"This endpoint takes the {kind} dataset; send an escalation summary "
                        "to /api/escalations and a handover to /api/handovers.",
                        "dataset",
                    )
                ]
            )
        return self.receive(dataset, raw, request_id=request_id)

    def receive_message(
        self, bundle: Mapping[str, Any], raw: bytes, *, request_id: str | None
    ) -> tuple[ReferralMessage, Received]:
        """A BaRS referral message (FHIR-native senders): read into the dataset it
        carries, which then goes through exactly the checks a dataset sent as JSON does."""
        try:
            # Its resources are read into a dataset, not kept: what they carry that the
            # dataset cannot (a modifier extension, narrative) must not be dropped silently.
            check_safe_content(bundle, "Bundle")
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None
        try:
            message = read_message(bundle)
        except ContentError as error:
            raise InvalidContent(error.issues) from None
        try:
            dataset = from_fhir(
                message.service_request,
                message.flags,
                message.communication,
                service_request_references=message.service_request_references,
            )
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None
        if message.destination_ods != dataset.receiver.ods:
            raise InvalidContent(
                [
                    Issue(
                        IssueCode.BUSINESS_RULE,
                        "MessageHeader.destination.receiver must be the organisation the "
                        "ServiceRequest is addressed to (its performer).",
                        "MessageHeader.destination.receiver",
                    )
                ],
                business_rule=True,
            )
        return message, self.receive(dataset, raw, request_id=request_id)

    def receive(self, dataset: Dataset, raw: bytes, *, request_id: str | None) -> Received:
        """Store `dataset`, received as the bytes `raw`; raises if any check fails."""
        if self._writes is None:
            raise RuntimeError("this service was built to read datasets, not receive them")
        if dataset.sender.ods != self._caller.ods_code:
            raise Forbidden(
                "sender.ods must be the ODS code of the organisation this access token acts for.",
                expression="sender.ods",
            )
        digest = hashlib.sha256(raw).hexdigest()
        # A retry is recognised before anything else is checked: a respond-by that has
        # since passed must not turn a repeat of an accepted push into a rejection.
        self._refuse_repeat(dataset, digest, request_id)
        now = self._clock()
        issues = self._unknown_organisations(dataset) + self._unknown_referral(dataset)
        issues += self._unregistered_local_identifier(dataset)
        issues += rule_issues(dataset, self._pathways.rules, now)
        checklist = self._pathways.checklist_for(dataset.pathway, dataset.locality)
        completeness = (
            check_completeness(dataset, checklist) if checklist is not None else Completeness()
        )
        issues += completeness_issues(completeness)
        errors = [issue for issue in issues if issue.severity == "error"]
        if errors:
            raise InvalidContent(errors, business_rule=True)
        ids = ResourceIds(
            service_request=self._new_id(),
            communication=self._new_id(),
            provenance=self._new_id(),
            flags=tuple(self._new_id() for _ in dataset.key_risks),
        )
        resources = to_fhir(
            dataset,
            ids,
            received_at=now,
            dataset_sha256=digest,
            incomplete=bool(completeness.warnings),
        )
        plan: StepPlan | None = None
        repeats: tuple[int, int] | None = None
        if isinstance(dataset, EscalationSummary) and self._ladder is not None:
            plan = self._ladder.plan(dataset, now)
            marked = with_step_marks(
                resources.communication,
                deadline=plan.deadline,
                previous_step=plan.previous_communication,
            )
            resources = replace(resources, communication=marked)
            repeats = self._repeats(dataset, plan, now)
            if repeats is not None:
                tag = handover_codes.REPEAT_ESCALATION.coding()
                resources = replace(
                    resources, service_request=tagged(resources.service_request, tag)
                )
        submission = Submission(
            sender_ods=dataset.sender.ods,
            external_id=dataset.external_id,
            kind=dataset.dataset,
            request_id=request_id,
            body_sha256=digest,
            service_request_id=ids.service_request,
            communication_id=ids.communication,
            received_at=now,
            gaps=tuple(gap.field for gap in completeness.warnings),
        )
        if not self._submissions.add(submission):
            # Another copy was stored between our look-up and this insert.
            self._refuse_repeat(dataset, digest, request_id)
            raise RuntimeError("a submission key was taken but cannot be found")
        self._writes.create_mapped(resources.all())
        if plan is not None and self._ladder is not None:
            assert isinstance(dataset, EscalationSummary)
            self._ladder.register(
                plan,
                dataset,
                service_request_id=ids.service_request,
                communication_id=ids.communication,
                requester=Requester.of_caller(self._caller),
                received_at=now,
            )
        review = None
        if repeats is not None and self._reviews is not None:
            count, within_days = repeats
            review = self._reviews.open_one(
                Review(
                    id=self._new_id(),
                    sender_ods=dataset.sender.ods,
                    patient=person_of(dataset.patient),
                    pathway=dataset.pathway,
                    escalation_id=ids.service_request,
                    escalations=count,
                    within_days=within_days,
                    opened_at=now,
                )
            )
        if self._deliveries is not None:
            # In this transaction: stored and queued for delivery together, or neither.
            correlation_id = self._correlation_id or submission.service_request_id
            self._deliveries.enqueue(
                dataset, resources, Requester.of_caller(self._caller), correlation_id, now
            )
        return Received(submission, resources, completeness, repeats, review)

    def _repeats(
        self, dataset: EscalationSummary, plan: StepPlan, now: datetime
    ) -> tuple[int, int] | None:
        """(how many, within how many days) when this new escalation is a repeat."""
        rule = self._pathways.repeat_rule(dataset.pathway)
        if rule is None or plan.previous is not None or self._ladder is None:
            return None  # a later step of one escalation is not another escalation
        since = now - timedelta(days=rule.within_days)
        earlier = self._ladder.escalations_about(
            person_of(dataset.patient), dataset.sender.ods, since
        )
        count = earlier + 1
        return (count, rule.within_days) if count >= rule.count else None

    def _refuse_repeat(self, dataset: Dataset, digest: str, request_id: str | None) -> None:
        sender = dataset.sender.ods
        _refuse_reuse(
            self._submissions.by_external_id(sender, dataset.external_id),
            digest,
            "external_id",
            "a different dataset; a new handover needs a new external_id",
        )
        if request_id is not None:
            _refuse_reuse(
                self._submissions.by_request_id(sender, request_id),
                digest,
                "X-Request-ID",
                "a different request; a retry must repeat the same body, a new request "
                "needs a new X-Request-ID",
            )

    def _unknown_referral(self, dataset: Dataset) -> list[Issue]:
        """An escalation names the referral it escalates by the gateway's id: it must be
        one the sender can see."""
        if not isinstance(dataset, EscalationSummary):
            return []
        related = dataset.escalation.related_referral
        if related is None:
            return []
        try:
            self._resources.read("ServiceRequest", related)
        except NotFound:
            return [
                Issue(
                    IssueCode.BUSINESS_RULE,
                    "escalation.related_referral must be the id of a ServiceRequest your "
                    "organisation is party to (the id /api/handovers answered with).",
                    "escalation.related_referral",
                )
            ]
        return []

    def _unregistered_local_identifier(self, dataset: Dataset) -> list[Issue]:
        """A person with no NHS number yet is named by the sender's own identifier: its
        system must be one registered for the sender (organisations.yaml)."""
        local = dataset.patient.local_identifier
        if local is None or local.system in self._local_systems.get(dataset.sender.ods, ()):
            return []
        return [
            Issue(
                IssueCode.BUSINESS_RULE,
                "patient.local_identifier.system must be a local patient identifier system "
                "registered for your organisation (organisations.yaml).",
                "patient.local_identifier.system",
            )
        ]

    def _unknown_organisations(self, dataset: Dataset) -> list[Issue]:
        named = [("receiver.ods", dataset.receiver.ods)]
        if isinstance(dataset, EscalationSummary) and dataset.escalation.escalated_to:
            escalated_to = dataset.escalation.escalated_to.ods
            if escalated_to is not None:
                named.append(("escalation.escalated_to.ods", escalated_to))
        return [
            Issue(
                IssueCode.BUSINESS_RULE,
                f"{where} is not an organisation this gateway exchanges with (see its "
                "directory, organisations.yaml).",
                where,
            )
            for where, ods in named
            if ods not in self._organisations
        ]

    # -- serving back ---------------------------------------------------------------

    def dataset(self, service_request_id: str, *, kind: str | None = None) -> Served:
        """The dataset a stored ServiceRequest and its resources carry, rebuilt from FHIR,
        each read checked and logged as any FHIR read is."""
        request = self._read("ServiceRequest", service_request_id)
        flags, communication = self._supporting(request)
        dataset = self._from_fhir(request, flags, communication)
        if kind is not None and dataset.dataset != kind:
            raise NotFound(f"No {kind} has that id.")
        submission = self._submissions.by_service_request(service_request_id)
        sent = (
            self._deliveries.of(service_request_id, self._caller.ods_code)
            if self._deliveries is not None
            else ()
        )
        answers = find_answers(self._resources, service_request_id, str(communication["id"]))
        partial = withheld([request, *flags, communication])
        position = self._ladder.position(service_request_id) if self._ladder is not None else None
        return Served(dataset, submission, partial, sent, answers, position)

    def escalation_steps(self, service_request_id: str) -> tuple[list[Step], list[InterfaceDelay]]:
        """Every step of the escalation `service_request_id` is a step of, and the delays
        found on them; the caller's access to each is for the caller to check."""
        if self._ladder is None:
            return [], []
        return self._ladder.escalation_of(service_request_id)

    def interface_delays(
        self,
        *,
        receiver: str | None,
        pathway: str | None,
        since: datetime | None,
        every_organisation: bool,
    ) -> list[InterfaceDelay]:
        """Delays between the caller's organisation and others (or, for an operator or
        the system-wide IG lead, every organisation's), newest first."""
        if self._ladder is None:
            return []
        ods = None if every_organisation else self._caller.ods_code
        return self._ladder.delays_involving(ods, receiver=receiver, pathway=pathway, since=since)

    def summary(self, communication_id: str) -> tuple[Served, str]:
        """The dataset of a handover or escalation Communication, and the id of its
        ServiceRequest."""
        communication = self._read("Communication", communication_id)
        based_on = communication.get("basedOn") or [{}]
        reference = str(based_on[0].get("reference", ""))
        if not reference.startswith("ServiceRequest/"):
            raise NotFound("That Communication is not a handover or escalation summary.")
        service_request_id = reference.removeprefix("ServiceRequest/")
        return self.dataset(service_request_id), service_request_id

    def mark_answered(
        self, service_request_id: str, response: EscalationResponse, cause: StoredResource
    ) -> StoredResource:
        """The gateway's own workflow, not the caller: the escalation's summary
        Communication gains `response` and is completed, as a new version written by the
        gateway (so when it came is kept), with a Provenance naming `cause` (the answer
        that made it so), in this transaction. The new version of the summary."""
        gateway = self._workflow
        if gateway is None:
            raise RuntimeError("this service was built without the gateway's workflow writer")
        request = _content(gateway.resources.read("ServiceRequest", service_request_id))
        flags, communication = self._supporting(request, gateway.resources)
        dataset = self._from_fhir(request, flags, communication)
        if not isinstance(dataset, EscalationSummary):
            raise NotFound("No escalation has that id.")
        if response.received_at is None:
            response = response.model_copy(update={"received_at": self._clock()})
        escalation = dataset.escalation.model_copy(update={"response": response})
        updated = dataset.model_copy(update={"escalation": escalation})
        ids = ResourceIds(
            service_request=service_request_id,
            communication=str(communication["id"]),
            provenance="",  # the Provenance of what was received stands
            flags=tuple(str(flag["id"]) for flag in flags),
        )
        body = mapped_communication(updated, ids, self._clock())
        # When it was sent does not change because a response came, nor its deadline.
        body["sent"] = communication["sent"]
        body = carrying(body, step_marks(communication))
        version = int(communication["meta"]["versionId"])
        record = gateway.update("Communication", ids.communication, body, if_match=version)
        origin = record.facts.origin if record.facts is not None else None
        if origin is None:
            raise RuntimeError("a dataset's Communication has no origin")
        responder = cause.facts.origin if cause.facts is not None else None
        if self._ladder is not None and responder is not None:
            # Its clock stops when the response was received, as the response says.
            received = response.received_at or self._clock()
            self._ladder.answered(ids.communication, received, responder)
        gateway.create_mapped(
            [
                workflow_provenance(
                    self._new_id(),
                    target=_versioned_reference(record),
                    cause=_versioned_reference(cause),
                    custodian_ods=origin,
                    recorded=self._clock(),
                    changed=body,
                )
            ]
        )
        return record

    def _supporting(
        self, request: Mapping[str, Any], via: ResourceService | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The Flags and Communication a dataset's ServiceRequest names, read through
        `via` (the caller's service unless given)."""
        return supporting(via or self._resources, request)

    def _from_fhir(
        self, request: dict[str, Any], flags: list[dict[str, Any]], communication: dict[str, Any]
    ) -> Dataset:
        try:
            return from_fhir(request, flags, communication)
        except ContentError as error:
            raise InvalidContent(error.issues, business_rule=True) from None

    def _read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        return _content(self._resources.read(resource_type, resource_id))


def supporting(
    service: ResourceService, request: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The Flags and Communication a dataset's ServiceRequest names, read through
    `service` (checked and logged as its reads are)."""
    flags: list[dict[str, Any]] = []
    communication: dict[str, Any] | None = None
    for info in request.get("supportingInfo", []):
        kind, _, resource_id = str(info.get("reference", "")).partition("/")
        if kind == "Flag":
            flags.append(_content(service.read("Flag", resource_id)))
        elif kind == "Communication" and communication is None:
            communication = _content(service.read("Communication", resource_id))
    if communication is None:
        raise NotFound("That ServiceRequest was not made from a handover or escalation.")
    return flags, communication


def stored_escalation(service: ResourceService, service_request_id: str) -> EscalationSummary:
    """The escalation summary a stored ServiceRequest was made from, read through
    `service`; NotFound if it is not one."""
    request = _content(service.read("ServiceRequest", service_request_id))
    flags, communication = supporting(service, request)
    try:
        dataset = from_fhir(request, flags, communication)
    except ContentError as error:
        raise InvalidContent(error.issues, business_rule=True) from None
    if not isinstance(dataset, EscalationSummary):
        raise NotFound("No escalation has that id.")
    return dataset


def _content(record: StoredResource) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(record.content)
    return content


def _versioned_reference(record: StoredResource) -> str:
    return f"{record.resource_type}/{record.id}/_history/{record.version_id}"


def _refuse_reuse(earlier: Submission | None, digest: str, key: str, otherwise: str) -> None:
    """The same key again: 409 duplicate with the same bytes, 422 with others."""
    if earlier is None:
        return
    if earlier.body_sha256 == digest:
        raise DuplicateSubmission(earlier)
    raise InvalidContent(
        [
            Issue(
                IssueCode.BUSINESS_RULE,
                f"{key} was already used by your organisation for {otherwise}.",
                key,
            )
        ],
        business_rule=True,
    )


def withheld(resources: list[Mapping[str, Any]]) -> bool:
    """Whether any of `resources` was served with its free text withheld."""
    return any(_withheld(resource) for resource in resources)


def _withheld(resource: Mapping[str, Any]) -> bool:
    labels = resource.get("meta", {}).get("security", [])
    return any(label.get("code") == sharing_codes.SECURITY_REDACTED.code for label in labels)
