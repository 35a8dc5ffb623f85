"""Restrictions past their time limit as a deadline source (gateway.platform.deadlines).

A restriction whose time limit passes with no review's decision ends: it is never left
in force by default. In one transaction, taken by exactly one process (a conditional
update of its row, RestrictionStore.take_expired):
- the gateway writes the Flag's next version, ended at its time limit, with a Provenance
  naming the version whose time limit passed as the cause;
- a notice (a Communication from the author, to the author and every organisation it is
  shared with) tells both sides that it ended and that nobody decided;
- the review clock stops (no overdue review escalates once it has ended); the
  AuditEvents of all this are appended.
The gateway writes as itself (no caller): the Flag and the notice concern only the
organisations already party to the restriction, and every read of them is still decided
by consent and the agreements.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from core.access_log.event import AuditedClient, AuditOutcome, EventKind
from core.codes import common as codes
from core.codes import restrictions as restriction_codes
from core.codes import sharing as sharing_codes
from core.codes.audit import Subtype
from core.fhir.dates import format_instant
from core.handover.ladder_steps import england_time
from core.handover.workflow_provenance import workflow_provenance
from core.safeguarding.restrictions import Restriction, expired
from core.safeguarding.restrictions_fhir import restriction, to_flag
from gateway.access_log import log as audit_log
from gateway.access_log.trail import AccessTrail, Who
from gateway.configuration.models import GatewayConfig
from gateway.fhir.gateway_writes import gateway_service
from gateway.platform.clock import IdSource, new_id
from gateway.platform.deadlines import Acted
from gateway.platform.logging import get_logger
from gateway.safeguarding.restriction_reviews import RestrictionReviews
from gateway.safeguarding.restrictions_store import RestrictionStore

log = get_logger(__name__)
ENDED = "ended"


class RestrictionExpiry:
    name = "restriction-time-limits"

    def __init__(
        self,
        config: Callable[[], GatewayConfig],
        *,
        gateway_url: str,
        clock: Callable[[], datetime],
        new_id: IdSource = new_id,
    ) -> None:
        self._config = config
        self._gateway_url = gateway_url
        self._clock = clock
        self._new_id = new_id

    def due(self, connection: Connection, now: datetime, limit: int) -> list[str]:
        return RestrictionStore(connection).due_expiry(now, limit)

    def next_deadline(self, connection: Connection) -> datetime | None:
        return RestrictionStore(connection).next_expiry()

    def act(self, connection: Connection, key: str, now: datetime, worker: str) -> Acted | None:
        store = RestrictionStore(connection)
        if store.take_expired(key, now, worker) is None:
            return None
        config = self._config()
        gateway = gateway_service(connection, config, None, clock=lambda: now, new_id=self._new_id)
        stored = gateway.read("Flag", key)
        current = restriction(json.loads(stored.content))
        ended = expired(current)
        flag = gateway.update("Flag", key, to_flag(ended), if_match=stored.version_id)
        store.replace(ended, flag.version_id)
        provenance = workflow_provenance(
            self._new_id(),
            target=f"Flag/{key}/_history/{flag.version_id}",
            cause=f"Flag/{key}/_history/{stored.version_id}",
            custodian_ods=current.author.ods,
            recorded=now,
            changed=json.loads(flag.content),
        )
        written = gateway.create_mapped([provenance, self._notice(ended, now)])
        # Nothing is left to review: the review clock stops.
        RestrictionReviews(connection, None, clock=lambda: now).met(ended, now)
        trail = AccessTrail(EventKind.APPLICATION, Subtype.RESTRICTION_EXPIRY, "U")
        for record in (flag, *written):
            trail.saw(record)
        who = Who(
            AuditedClient(None, current.author.ods, None), None, (), None, key, self._gateway_url
        )
        description = "A restriction reached its time limit with no review's decision: ended"
        audit_log.append(connection, trail.events(who, AuditOutcome.SUCCESS, description))
        log.info("deadlines.restriction_expired", restriction=key)
        return Acted(self.name, key, ENDED)

    def _notice(self, ended: Restriction, now: datetime) -> dict[str, Any]:
        recipients = [ended.author.ods, *(o.ods for o in ended.shared_with)]
        kind = restriction_codes.RESTRICTION_KINDS[ended.kind].display.lower()
        text = (
            f"A restriction ({kind}) reached its time limit at {england_time(ended.time_limit)} "
            "with no review's decision, so the gateway ended it. If it is still needed, its "
            "author must record a new restriction, with its rationale and the alternatives "
            "considered."
        )
        return {
            "resourceType": "Communication",
            "id": self._new_id(),
            "meta": {"tag": [sharing_codes.DATA_CATEGORIES["safeguarding"].coding()]},
            "status": "completed",
            "category": [{"coding": [restriction_codes.RESTRICTION_NOTICE_CATEGORY.coding()]}],
            "subject": {
                "identifier": {
                    "system": codes.NHS_NUMBER_SYSTEM,
                    "value": ended.patient.nhs_number,
                }
            },
            "about": [{"reference": f"Flag/{ended.id}"}],
            "sent": format_instant(now, fixed_width=False),
            "recipient": [_organisation(ods) for ods in dict.fromkeys(recipients)],
            "sender": _organisation(ended.author.ods),
            "payload": [{"contentString": text}],
        }


def _organisation(ods: str) -> dict[str, Any]:
    return {"identifier": {"system": codes.ODS_ORGANISATION_SYSTEM, "value": ods}}
