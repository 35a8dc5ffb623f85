"""The gateway's own operations in the access log: configuration loads, exports, operator
commands. No HTTP here: the commands and the workers write these too."""

from __future__ import annotations

from sqlalchemy import Connection

from core.access_log.event import AuditOutcome, EventKind
from core.codes import common as codes
from gateway.access_log import log as audit_log
from gateway.access_log.trail import AccessTrail, Who
from gateway.platform.runtime import Runtime


def gateway_identity(runtime: Runtime) -> str:
    """The gateway as the log names it: configured, never taken from a request's Host."""
    settings = runtime.settings
    return settings.public_base_url or f"http://{settings.host}:{settings.port}"


def record_gateway_event(
    connection: Connection,
    runtime: Runtime,
    subtype: codes.Code,
    description: str,
    *,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
) -> None:
    """The gateway's own operations (configuration loads, exports, operator commands),
    appended in the caller's transaction. `description` must name no patient."""
    trail = AccessTrail(EventKind.APPLICATION, subtype, "E")
    gateway = Who(None, None, (), None, None, gateway_identity(runtime))
    audit_log.append(connection, trail.events(gateway, outcome, description))
