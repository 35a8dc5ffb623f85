"""What routes are handed: the runtime built in the lifespan, services in a transaction,
and the request body read within limits. Routes declare these as Annotated aliases."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from sqlalchemy import Connection

from core.fhir.issues import ContentError
from core.fhir.json_input import ShapeLimits, parse_json_object
from gateway.access_log.recording import append_durably, append_in, success_events, trail_of
from gateway.auth.caller import Caller
from gateway.exchange.outbox import OutboxStore
from gateway.exchange.queueing import DeliveryQueue
from gateway.fhir.search.page_store import SearchPageStore
from gateway.fhir.search.pages import PageReferences
from gateway.fhir.service import ResourceService
from gateway.fhir.store import ResourceStore
from gateway.fhir.writes import FhirWrites, WriteRules
from gateway.handovers.escalation_responses import EscalationResponses
from gateway.handovers.ladder import EscalationLadder
from gateway.handovers.ladder_store import DelayStore, StepStore
from gateway.handovers.referral_answers import register_answer_rules
from gateway.handovers.reviews import ReviewStore
from gateway.handovers.service import DatasetService
from gateway.handovers.store import SubmissionStore
from gateway.handovers.updates import HANDOVER_RESOURCE_TYPES, HandoverUpdates
from gateway.platform.errors import (
    BadRequest,
    InvalidContent,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from gateway.platform.runtime import Runtime, gate
from gateway.safeguarding.action_deadlines import ActionDeadlines
from gateway.safeguarding.fhir_rules import ActionWrites
from gateway.safeguarding.picture_reader import PictureReader
from gateway.safeguarding.restriction_reviews import RestrictionReviews
from gateway.safeguarding.restriction_rules import RestrictionFlags
from gateway.safeguarding.restrictions import RestrictionService
from gateway.safeguarding.restrictions_store import RestrictionStore
from gateway.safeguarding.service import SafeguardingService
from gateway.safeguarding.store import ActionStore
from gateway.sharing.policy import SharingPolicy
from gateway.sharing.requester import Requester
from gateway.subscriptions.notifier import SubscriptionNotifier
from gateway.subscriptions.service import SubscriptionService
from gateway.subscriptions.store import SubscriptionStore
from gateway.web.http_headers import fhir_base
from gateway.web.runtime import RuntimeDep

_JSON_MEDIA_TYPES = {"application/fhir+json", "application/json"}
_CHARSET = re.compile(r"charset\s*=\s*\"?([A-Za-z0-9._-]+)", re.IGNORECASE)
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


def _caller(request: Request) -> Caller:
    # Set by the authentication dependency every data router declares first.
    caller = getattr(request.state, "caller", None)
    if not isinstance(caller, Caller):
        raise RuntimeError("a data route was reached without authentication")
    return caller


async def _read_service(request: Request, runtime: RuntimeDep) -> AsyncIterator[ResourceService]:
    # What was read is logged, and committed, before the response is sent.
    caller = _caller(request)
    async with gate(runtime).read() as connection:
        yield _service(runtime, connection, caller, request)
    await append_durably(runtime, success_events(request, runtime))


def _service(
    runtime: Runtime, connection: Connection, caller: Caller, request: Request
) -> ResourceService:
    # The agreements in force when the request arrived: a reload mid-request does not
    # change the rules a request is decided by.
    config = runtime.config
    store = ResourceStore(connection)
    sharing = SharingPolicy(store, Requester.of_caller(caller), config.agreements, runtime.clock())
    return ResourceService(
        store,
        runtime.paging,
        caller=caller,
        trail=trail_of(request),
        sharing=sharing,
        local_systems=config.directory.local_patient_systems,
        clock=runtime.clock,
        changes=SubscriptionNotifier(connection, config, clock=runtime.clock),
    )


@dataclass(frozen=True, slots=True)
class Writing:
    """What a write transaction is handed: the one FHIR write path, with every write
    rule registered, and the dataset intake that stores through it."""

    writes: FhirWrites
    datasets: DatasetService
    escalation_responses: EscalationResponses


def _writing(runtime: Runtime, connection: Connection, caller: Caller, request: Request) -> Writing:
    config = runtime.config
    resources = _service(runtime, connection, caller, request)
    # A new version of a pushed handover's resource is queued for its receivers in the
    # update's own transaction, whether the caller or the gateway's workflow wrote it.
    updates = _updates(runtime, connection, caller, request)
    rules = WriteRules()
    writes = FhirWrites(resources, rules)
    datasets = _datasets(
        runtime,
        connection,
        caller,
        request,
        resources,
        writes=writes,
        workflow=_workflow(runtime, connection, updates),
    )
    names = {o.ods: o.name for o in config.directory.organisations}
    # Before the referral answers': a safeguarding action is no answer, and no client
    # writes one through /fhir/Task (gateway.safeguarding.fhir_rules).
    rules.register(["Task"], ActionWrites(resources))
    register_answer_rules(
        rules, resources, datasets, config.pathways, names, caller, clock=runtime.clock
    )
    rules.register(HANDOVER_RESOURCE_TYPES, updates)
    # Restriction Flags are written through /api/restrictions only.
    rules.register(["Flag"], RestrictionFlags(resources))
    responses = EscalationResponses(writes, datasets, caller, clock=runtime.clock)
    return Writing(writes, datasets, responses)


def _updates(
    runtime: Runtime, connection: Connection, caller: Caller, request: Request
) -> HandoverUpdates:
    gateway_url = fhir_base(request, runtime.settings.public_base_url)
    store = ResourceStore(connection)
    outbox = OutboxStore(connection)
    return HandoverUpdates(
        store, outbox, runtime.config.endpoints, gateway_url, caller, clock=runtime.clock
    )


def _workflow(runtime: Runtime, connection: Connection, updates: HandoverUpdates) -> FhirWrites:
    """The gateway's own writer, in the request's transaction: no caller, so no client's
    rules apply; what it writes is recorded by the Provenance it writes with it."""
    resources = ResourceService(
        ResourceStore(connection),
        runtime.paging,
        local_systems=runtime.config.directory.local_patient_systems,
        clock=runtime.clock,
        # Its writes (an escalation marked answered) notify Subscriptions as a client's do.
        changes=SubscriptionNotifier(connection, runtime.config, clock=runtime.clock),
    )
    rules = WriteRules()
    rules.register(HANDOVER_RESOURCE_TYPES, updates)
    return FhirWrites(resources, rules)


async def _write(request: Request, runtime: RuntimeDep) -> AsyncIterator[Writing]:
    # A write's resources, its submission record if any and its AuditEvents commit
    # together, before the response, or not at all.
    caller = _caller(request)
    async with gate(runtime).write() as connection:
        yield _writing(runtime, connection, caller, request)
        await append_in(connection, success_events(request, runtime))
    runtime.worker_doorbells.ring()  # committed: a push or an update may have queued deliveries


async def _read_datasets(request: Request, runtime: RuntimeDep) -> AsyncIterator[DatasetService]:
    caller = _caller(request)
    async with gate(runtime).read() as connection:
        resources = _service(runtime, connection, caller, request)
        yield _datasets(runtime, connection, caller, request, resources)
    await append_durably(runtime, success_events(request, runtime))


def _datasets(
    runtime: Runtime,
    connection: Connection,
    caller: Caller,
    request: Request,
    resources: ResourceService,
    *,
    writes: FhirWrites | None = None,
    workflow: FhirWrites | None = None,
) -> DatasetService:
    config = runtime.config
    gateway_url = fhir_base(request, runtime.settings.public_base_url)
    return DatasetService(
        resources,
        SubmissionStore(connection),
        config.pathways,
        frozenset(organisation.ods for organisation in config.directory.organisations),
        caller,
        local_systems=config.directory.local_patient_systems,
        writes=writes,
        deliveries=DeliveryQueue(OutboxStore(connection), config.endpoints, gateway_url),
        workflow=workflow,
        ladder=EscalationLadder(StepStore(connection), DelayStore(connection), config.ladders),
        reviews=ReviewStore(connection),
        correlation_id=getattr(request.state, "correlation_id", None),
        clock=runtime.clock,
    )


async def _read_reviews(request: Request, runtime: RuntimeDep) -> AsyncIterator[ReviewStore]:
    _caller(request)
    async with gate(runtime).read() as connection:
        yield ReviewStore(connection)
    await append_durably(runtime, success_events(request, runtime))


async def _write_reviews(request: Request, runtime: RuntimeDep) -> AsyncIterator[ReviewStore]:
    _caller(request)
    async with gate(runtime).write() as connection:
        yield ReviewStore(connection)
        await append_in(connection, success_events(request, runtime))


def _restrictions(
    runtime: Runtime,
    connection: Connection,
    caller: Caller,
    request: Request,
    resources: ResourceService | None = None,
) -> RestrictionService:
    config = runtime.config
    return RestrictionService(
        resources or _service(runtime, connection, caller, request),
        RestrictionStore(connection),
        config.pathways.restrictions,
        frozenset(organisation.ods for organisation in config.directory.organisations),
        caller,
        clock=runtime.clock,
        # The author's reviews are owed by its own client: the overdue notices are its.
        review_clock=RestrictionReviews(
            connection, Requester.of_caller(caller), clock=runtime.clock
        ),
    )


async def _write_restrictions(
    request: Request, runtime: RuntimeDep
) -> AsyncIterator[RestrictionService]:
    # A restriction's version, its row and its AuditEvents commit together, or not at all.
    caller = _caller(request)
    async with gate(runtime).write() as connection:
        yield _restrictions(runtime, connection, caller, request)
        await append_in(connection, success_events(request, runtime))


async def _read_restrictions(
    request: Request, runtime: RuntimeDep
) -> AsyncIterator[RestrictionService]:
    caller = _caller(request)
    async with gate(runtime).read() as connection:
        yield _restrictions(runtime, connection, caller, request)
    await append_durably(runtime, success_events(request, runtime))


@dataclass(frozen=True, slots=True)
class SummaryReading:
    """What a dataset's summary reads, on one connection as one caller: the dataset, and
    the person's safeguarding picture."""

    datasets: DatasetService
    picture: PictureReader


async def _read_summaries(request: Request, runtime: RuntimeDep) -> AsyncIterator[SummaryReading]:
    caller = _caller(request)
    async with gate(runtime).read() as connection:
        resources = _service(runtime, connection, caller, request)
        names = {o.ods: o.name for o in runtime.config.directory.organisations}
        yield SummaryReading(
            _datasets(runtime, connection, caller, request, resources),
            PictureReader(
                _safeguarding(runtime, connection, caller, request, resources),
                _restrictions(runtime, connection, caller, request, resources),
                names,
            ),
        )
    await append_durably(runtime, success_events(request, runtime))


def _fhir_writes(writing: Annotated[Writing, Depends(_write, scope="function")]) -> FhirWrites:
    return writing.writes


def _write_datasets(
    writing: Annotated[Writing, Depends(_write, scope="function")],
) -> DatasetService:
    return writing.datasets


def _escalation_responses(
    writing: Annotated[Writing, Depends(_write, scope="function")],
) -> EscalationResponses:
    return writing.escalation_responses


def _safeguarding(
    runtime: Runtime,
    connection: Connection,
    caller: Caller,
    request: Request,
    resources: ResourceService,
    writes: FhirWrites | None = None,
) -> SafeguardingService:
    config = runtime.config
    workflow: FhirWrites | None = None
    if writes is not None:
        # The gateway's own writer, for an action moved on at the owner's or requester's
        # asking: no caller (only the origin writes new versions, and the owner is not
        # it), sharing decided on behalf of the organisation that asked, every write in
        # the request's access log. What it writes carries a Provenance naming who asked.
        store = ResourceStore(connection)
        workflow = FhirWrites(
            ResourceService(
                store,
                runtime.paging,
                trail=trail_of(request),
                sharing=SharingPolicy(
                    store, Requester.of_caller(caller), config.agreements, runtime.clock()
                ),
                local_systems=config.directory.local_patient_systems,
                clock=runtime.clock,
                changes=SubscriptionNotifier(connection, config, clock=runtime.clock),
            )
        )
    return SafeguardingService(
        resources,
        ActionStore(connection),
        caller,
        frozenset(organisation.ods for organisation in config.directory.organisations),
        writes=writes,
        workflow=workflow,
        deadlines=ActionDeadlines(connection, clock=runtime.clock),
        clock=runtime.clock,
    )


async def _write_safeguarding(
    request: Request, runtime: RuntimeDep
) -> AsyncIterator[SafeguardingService]:
    # An action's Task, its Provenance, its tracker row and its AuditEvents commit
    # together, before the response, or not at all.
    caller = _caller(request)
    async with gate(runtime).write() as connection:
        writing = _writing(runtime, connection, caller, request)
        resources = writing.writes.resources
        yield _safeguarding(runtime, connection, caller, request, resources, writing.writes)
        await append_in(connection, success_events(request, runtime))
    runtime.worker_doorbells.ring()


async def _read_safeguarding(
    request: Request, runtime: RuntimeDep
) -> AsyncIterator[SafeguardingService]:
    caller = _caller(request)
    async with gate(runtime).read() as connection:
        resources = _service(runtime, connection, caller, request)
        yield _safeguarding(runtime, connection, caller, request, resources)
    await append_durably(runtime, success_events(request, runtime))


WriteSafeguarding = Annotated[SafeguardingService, Depends(_write_safeguarding, scope="function")]
ReadSafeguarding = Annotated[SafeguardingService, Depends(_read_safeguarding, scope="function")]


@dataclass(frozen=True, slots=True)
class Searching:
    """A FHIR search and the page references of POST searches, in one transaction."""

    resources: ResourceService
    pages: PageReferences


def _searching(
    runtime: Runtime, connection: Connection, caller: Caller, request: Request
) -> Searching:
    pages = PageReferences(
        SearchPageStore(connection),
        caller.client_id,
        lifetime=timedelta(seconds=runtime.settings.search_page_lifetime_seconds),
        clock=runtime.clock,
    )
    return Searching(_service(runtime, connection, caller, request), pages)


async def _read_search(request: Request, runtime: RuntimeDep) -> AsyncIterator[Searching]:
    # A GET search, a page link followed included: reads only, as _read_service.
    caller = _caller(request)
    async with gate(runtime).read() as connection:
        yield _searching(runtime, connection, caller, request)
    await append_durably(runtime, success_events(request, runtime))


async def _post_search(request: Request, runtime: RuntimeDep) -> AsyncIterator[Searching]:
    # POST _search keeps its parameters for its page links: a write, committed with the
    # search's AuditEvents before the response.
    caller = _caller(request)
    async with gate(runtime).write() as connection:
        yield _searching(runtime, connection, caller, request)
        await append_in(connection, success_events(request, runtime))


WriteFhir = Annotated[FhirWrites, Depends(_fhir_writes, scope="function")]
WriteDatasets = Annotated[DatasetService, Depends(_write_datasets, scope="function")]
RespondToEscalations = Annotated[
    EscalationResponses, Depends(_escalation_responses, scope="function")
]
ReadDatasets = Annotated[DatasetService, Depends(_read_datasets, scope="function")]
ReadSummaries = Annotated[SummaryReading, Depends(_read_summaries, scope="function")]
ReadReviews = Annotated[ReviewStore, Depends(_read_reviews, scope="function")]
WriteReviews = Annotated[ReviewStore, Depends(_write_reviews, scope="function")]
WriteRestrictions = Annotated[RestrictionService, Depends(_write_restrictions, scope="function")]
ReadRestrictions = Annotated[RestrictionService, Depends(_read_restrictions, scope="function")]
ReadService = Annotated[ResourceService, Depends(_read_service, scope="function")]
ReadSearch = Annotated[Searching, Depends(_read_search, scope="function")]
PostSearch = Annotated[Searching, Depends(_post_search, scope="function")]


def _subscriptions(
    runtime: Runtime, connection: Connection, caller: Caller, request: Request
) -> SubscriptionService:
    return SubscriptionService(
        SubscriptionStore(connection),
        OutboxStore(connection),
        caller,
        runtime.config.endpoints,
        trail=trail_of(request),
        clock=runtime.clock,
    )


async def _write_subscriptions(
    request: Request, runtime: RuntimeDep
) -> AsyncIterator[SubscriptionService]:
    # A Subscription and its AuditEvents commit together, before the response.
    caller = _caller(request)
    async with gate(runtime).write() as connection:
        yield _subscriptions(runtime, connection, caller, request)
        await append_in(connection, success_events(request, runtime))


async def _read_subscriptions(
    request: Request, runtime: RuntimeDep
) -> AsyncIterator[SubscriptionService]:
    caller = _caller(request)
    async with gate(runtime).read() as connection:
        yield _subscriptions(runtime, connection, caller, request)
    await append_durably(runtime, success_events(request, runtime))


WriteSubscriptions = Annotated[SubscriptionService, Depends(_write_subscriptions, scope="function")]
ReadSubscriptions = Annotated[SubscriptionService, Depends(_read_subscriptions, scope="function")]


@dataclass(frozen=True, slots=True)
class ReceivedJson:
    """A JSON object body and the bytes it came as (hashed as received)."""

    value: dict[str, Any]
    raw: bytes


async def _json_body(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    return (await _received_json(request, runtime)).value


async def _received_json(request: Request, runtime: RuntimeDep) -> ReceivedJson:
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    if media_type.strip().lower() not in _JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            "Send application/fhir+json (or application/json); other formats are not accepted."
        )
    charset = _CHARSET.search(parameters)
    if charset is not None and charset[1].lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType("JSON bodies must be UTF-8 (charset=utf-8).")
    body = await read_limited(request, runtime.settings.max_body_bytes)
    limits = ShapeLimits(runtime.settings.max_json_depth, runtime.settings.max_array_length)
    try:
        return ReceivedJson(parse_json_object(body, limits), body)
    except ContentError as error:
        raise InvalidContent(error.issues) from None


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and _CONTENT_LENGTH.fullmatch(declared) and int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than the limit of {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


JsonBody = Annotated[dict[str, Any], Depends(_json_body)]
RawJsonBody = Annotated[ReceivedJson, Depends(_received_json)]


async def _form_params(request: Request, runtime: RuntimeDep) -> list[tuple[str, str]]:
    """Search parameters sent as a form body (POST _search), within the body limit."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("POST to _search takes application/x-www-form-urlencoded.")
    body = await read_limited(request, runtime.settings.max_body_bytes)
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("The form body is not valid UTF-8.") from None


FormParams = Annotated[list[tuple[str, str]], Depends(_form_params)]
