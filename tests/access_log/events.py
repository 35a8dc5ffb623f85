"""Building access-log events for tests of the log itself (not through the API)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection

from core.access_log.event import AuditedClient, AuditedData, AuditFacts, AuditOutcome, EventKind
from core.codes.audit import Subtype
from core.codes.sharing import PURPOSE_DIRECT_CARE
from gateway.access_log import log as audit_log
from gateway.access_log.keys import AuditSigningKey


def facts(
    number: int, *, patient: str | None = "9434765919", recorded: datetime | None = None
) -> AuditFacts:
    return AuditFacts(
        event_id=str(uuid.uuid4()),
        recorded=recorded or datetime.now(UTC),
        kind=EventKind.REST,
        subtype=Subtype.READ,
        action="R",
        outcome=AuditOutcome.SUCCESS,
        outcome_desc=None,
        client=AuditedClient("demo-provider-epr", "AZZ", "127.0.0.1"),
        end_user=None,
        gateway_base_url="http://127.0.0.1:8080",
        purpose_of_use=(PURPOSE_DIRECT_CARE,),
        patient=patient,
        data=(AuditedData("ServiceRequest", f"sr-{number}", 1),),
        query=None,
        request_id=f"request-{number}",
        correlation_id=None,
        decision=None,
    )


def append(
    connection: Connection, count: int, start: int = 0, *, recorded: datetime | None = None
) -> None:
    audit_log.append(connection, [facts(start + n, recorded=recorded) for n in range(count)])


def key(name: str = "mh-gateway/test/audit") -> AuditSigningKey:
    return AuditSigningKey(Ed25519PrivateKey.generate(), name)
