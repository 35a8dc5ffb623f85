"""The edge of the access log: every routed request gets a trail, and its AuditEvents are
written on success (in the write's own transaction, or durably before a read's response
is sent) and on failure (refusals included, with what is known). If they cannot be
written, the request fails closed with 503.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

import anyio.to_thread
from sqlalchemy import Connection
from starlette.requests import Request

from consent.purposes import Purpose
from core.access_log.event import (
    AuditedClient,
    AuditedDecision,
    AuditedEndUser,
    AuditFacts,
    AuditOutcome,
    EventKind,
)
from core.codes import common as codes
from core.codes import sharing as sharing_codes
from core.codes.audit import Subtype
from core.fhir.models import SUPPORTED_RESOURCE_TYPES
from gateway.access_log import log as audit_log
from gateway.access_log.gateway_events import gateway_identity
from gateway.access_log.group_commit import Commit
from gateway.access_log.trail import (
    DIRECTORY_READ_ONLY,
    FORBIDDEN,
    METHOD_NOT_ALLOWED,
    NO_VALID_TOKEN,
    RATE_LIMITED,
    SCOPE_NOT_GRANTED,
    AccessTrail,
    Who,
)
from gateway.auth.caller import Caller
from gateway.platform.errors import (
    AuditUnavailable,
    DirectoryReadOnly,
    Forbidden,
    InsufficientScope,
    MethodNotAllowed,
    TokenRequestThrottled,
    TooManyRequests,
    Unauthorized,
)
from gateway.platform.logging import get_logger
from gateway.platform.runtime import Runtime, gate

log = get_logger(__name__)

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_VERSION = re.compile(r"[1-9][0-9]{0,8}")

# Route name -> what kind of interaction it is, for every route that is audited.
_REST = EventKind.REST
ROUTE_INTERACTIONS: dict[str, tuple[EventKind, codes.Code, str]] = {
    "create": (_REST, Subtype.CREATE, "C"),
    "read": (_REST, Subtype.READ, "R"),
    "vread": (_REST, Subtype.VREAD, "R"),
    "update": (_REST, Subtype.UPDATE, "U"),
    "history": (_REST, Subtype.HISTORY_INSTANCE, "R"),
    "search": (_REST, Subtype.SEARCH_TYPE, "E"),
    "search_by_post": (_REST, Subtype.SEARCH_TYPE, "E"),
    "transaction": (_REST, Subtype.TRANSACTION, "E"),
    "token": (EventKind.AUTHENTICATION, Subtype.LOGIN, "E"),
    "audit_event_search": (_REST, Subtype.SEARCH_TYPE, "E"),
    "audit_event_read": (_REST, Subtype.READ, "R"),
    "patient_access_report": (_REST, Subtype.PATIENT_ACCESS_REPORT, "E"),
    "latest_checkpoint": (_REST, Subtype.READ, "R"),
    "inclusion_proof": (_REST, Subtype.READ, "R"),
    "consistency_proof": (_REST, Subtype.READ, "R"),
    "make_checkpoint": (EventKind.APPLICATION, Subtype.CHECKPOINT, "E"),
    "handover_push": (_REST, Subtype.HANDOVER_PUSH, "C"),
    "escalation_push": (_REST, Subtype.ESCALATION_PUSH, "C"),
    "process_message": (_REST, Subtype.PROCESS_MESSAGE, "C"),
    "handover_read": (_REST, Subtype.READ, "R"),
    "escalation_read": (_REST, Subtype.READ, "R"),
    "escalation_response": (_REST, Subtype.UPDATE, "U"),
    "escalation_timeline": (_REST, Subtype.READ, "R"),
    "interface_delays": (_REST, Subtype.SEARCH_TYPE, "E"),
    "reviews": (_REST, Subtype.SEARCH_TYPE, "E"),
    "review_close": (_REST, Subtype.UPDATE, "U"),
    "communication_summary": (_REST, Subtype.OPERATION, "R"),
    "deliveries": (_REST, Subtype.SEARCH_TYPE, "E"),
    "subscription_create": (_REST, Subtype.CREATE, "C"),
    "subscription_read": (_REST, Subtype.READ, "R"),
    "subscription_update": (_REST, Subtype.UPDATE, "U"),
    "subscription_delete": (_REST, Subtype.DELETE, "D"),
    "subscription_search": (_REST, Subtype.SEARCH_TYPE, "E"),
    "subscription_search_by_post": (_REST, Subtype.SEARCH_TYPE, "E"),
    "restriction_create": (_REST, Subtype.CREATE, "C"),
    "restriction_review": (_REST, Subtype.UPDATE, "U"),
    "restriction": (_REST, Subtype.READ, "R"),
    "restrictions": (_REST, Subtype.SEARCH_TYPE, "E"),
    "safeguarding_actions_raise": (_REST, Subtype.CREATE, "C"),
    "safeguarding_action_status": (_REST, Subtype.UPDATE, "U"),
    "safeguarding_action_contacts": (_REST, Subtype.CREATE, "C"),
    "safeguarding_actions": (_REST, Subtype.SEARCH_TYPE, "E"),
    "safeguarding_huddle": (_REST, Subtype.SEARCH_TYPE, "E"),
    "safeguarding_delays": (_REST, Subtype.SEARCH_TYPE, "E"),
}


async def start_trail(request: Request) -> None:
    """A router dependency, declared first, so that even a refusal is audited."""
    route = request.scope.get("route")
    spec = ROUTE_INTERACTIONS.get(getattr(route, "name", ""))
    if spec is None:
        raise RuntimeError("an audited router has a route the access log does not know")
    kind, subtype, action = spec
    trail = AccessTrail(kind, subtype, action)  # type: ignore[arg-type]
    request.state.trail = trail


def trail_of(request: Request) -> AccessTrail | None:
    trail = getattr(request.state, "trail", None)
    return trail if isinstance(trail, AccessTrail) else None


def who(request: Request, runtime: Runtime) -> Who:
    caller = getattr(request.state, "caller", None)
    trail = trail_of(request)
    address = request.client.host if request.client else None
    client: AuditedClient | None = None
    purposes: tuple[codes.Code, ...] = ()
    end_user: AuditedEndUser | None = None
    if isinstance(caller, Caller):
        client = AuditedClient(caller.client_id, caller.ods_code, address)
        purposes = purpose_codes(caller.purpose)
        if caller.end_user is not None:
            end_user = AuditedEndUser(
                caller.end_user.organisation_ods, caller.end_user.practitioner_identifiers
            )
    else:
        claimed = trail.claimed_client_id if trail is not None else None
        registered = runtime.config.client(claimed) if claimed else None
        client = AuditedClient(
            registered.client_id if registered else None,
            registered.organisation if registered else None,
            address,
        )
    return Who(
        client=client,
        end_user=end_user,
        purpose_of_use=purposes,
        request_id=getattr(request.state, "request_id", None),
        correlation_id=getattr(request.state, "correlation_id", None),
        gateway_base_url=gateway_identity(runtime),
    )


def purpose_codes(purpose: Purpose) -> tuple[codes.Code, ...]:
    """The purpose of use as the access log records it: the agreement purpose (gateway
    purpose-of-use CodeSystem), and the v3 code for emergency treatment and break-glass."""
    recorded = (sharing_codes.purpose_of_use(purpose.agreement_purpose),)
    if purpose is Purpose.ETREAT:
        return (*recorded, sharing_codes.PURPOSE_ETREAT)
    if purpose is Purpose.BTG:
        return (*recorded, sharing_codes.PURPOSE_BTG)
    return recorded


def success_events(request: Request, runtime: Runtime) -> list[AuditFacts]:
    trail = trail_of(request)
    return [] if trail is None else trail.events(who(request, runtime), AuditOutcome.SUCCESS)


async def append_in(connection: Connection, events: Sequence[AuditFacts]) -> None:
    """Within a write transaction the caller holds (a write and its audit commit together)."""
    await anyio.to_thread.run_sync(partial(audit_log.append, connection, events))


async def append_durably(runtime: Runtime, events: Sequence[AuditFacts]) -> None:
    """Committed before this returns (reads, refusals), in a transaction shared with
    other requests' events that are waiting at the same moment (group commit)."""
    if not events:
        return
    if runtime.audit_writer is None:
        raise RuntimeError("the runtime's audit writer is built in the app's lifespan")
    await runtime.audit_writer.append(events)


def commit_in_own_transaction(runtime: Runtime) -> Commit:
    async def commit(events: Sequence[AuditFacts]) -> None:
        async with gate(runtime).write() as connection:
            await append_in(connection, events)

    return commit


async def record_failure(
    request: Request, status: int, summary: str, error: Exception | None = None
) -> None:
    """Audit a refused or failed request; AuditUnavailable if that cannot be done."""
    trail = trail_of(request)
    runtime = getattr(request.app.state, "runtime", None)
    if trail is None or not isinstance(runtime, Runtime):
        return
    outcome = AuditOutcome.SERIOUS_FAILURE if status >= 500 else AuditOutcome.MINOR_FAILURE
    _note_attempt(request, trail)
    if trail.decision is None and error is not None:
        rule = next((rule for kind, rule in _RULES if isinstance(error, kind)), None)
        trail.decision = AuditedDecision(rule, None) if rule else None
    events = trail.events(who(request, runtime), outcome, summary, now=runtime.clock)
    try:
        # Repeats of an anonymous refusal are counted, and written once their window ends.
        await append_durably(runtime, [e for e in events if runtime.refusals.first_of_its_kind(e)])
    except AuditUnavailable:
        raise
    except Exception as failure:  # the log must not be silently lost: fail closed
        log.error("audit.append_failed", error_type=type(failure).__name__)
        raise AuditUnavailable() from None


async def record_repeated_refusals(runtime: Runtime) -> None:
    """Background: write the counts of anonymous refusals as their windows end."""
    while True:
        await anyio.sleep(_REFUSAL_FLUSH_SECONDS)
        await write_repeated_refusals(runtime, runtime.refusals.due(runtime.clock()))


async def write_repeated_refusals(runtime: Runtime, events: Sequence[AuditFacts]) -> None:
    """Written in a transaction of their own; held for the next try if that fails."""
    if not events:
        return
    try:
        await append_durably(runtime, events)
    except Exception as failure:
        runtime.refusals.keep(events)
        log.error(
            "audit.repeated_refusals_unwritten",
            error_type=type(failure).__name__,
            refusals=sum(event.occurrences for event in events),
        )


# How often the counts of ended windows are looked for: a window's count is written at
# most this long after it ends.
_REFUSAL_FLUSH_SECONDS = 1.0

# The access rule behind each refusal, most specific first (see AccessTrail's rules).
_RULES: tuple[tuple[type[Exception], str], ...] = (
    (Unauthorized, NO_VALID_TOKEN),
    (InsufficientScope, SCOPE_NOT_GRANTED),
    (Forbidden, FORBIDDEN),
    (TooManyRequests, RATE_LIMITED),
    (TokenRequestThrottled, RATE_LIMITED),
    (DirectoryReadOnly, DIRECTORY_READ_ONLY),
    (MethodNotAllowed, METHOD_NOT_ALLOWED),
)


def _note_attempt(request: Request, trail: AccessTrail) -> None:
    """For a refused request on one resource, name what it asked for (never content).
    Path values are client input: only a served type and a well-formed id are kept."""
    if trail.touched:
        return
    resource_type = request.path_params.get("resource_type")
    resource_id = request.path_params.get("resource_id")
    if resource_type not in SUPPORTED_RESOURCE_TYPES or not isinstance(resource_id, str):
        return
    if not _ID.fullmatch(resource_id):
        return
    version = request.path_params.get("version_id")
    version_id = int(version) if isinstance(version, str) and _VERSION.fullmatch(version) else None
    trail.refers_to(str(resource_type), resource_id, version_id)
