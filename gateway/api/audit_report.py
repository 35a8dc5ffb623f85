"""The patient access report as CSV: one line per access to the person's record, for a
subject access request, oldest first. Every value is the event's signed bytes' own
(gateway.audit.search checks the row against them first)."""

from __future__ import annotations

import csv
import io

from gateway.audit.log import AGENT, ENTITY
from gateway.audit.search import AuditRow
from mappings.fhir_dates import format_instant

REPORT_COLUMNS = (
    "recorded",
    "event_id",
    "interaction",
    "action",
    "outcome",
    "client_id",
    "organisation",
    "end_user",
    "purpose",
    "data",
    "request_id",
)
_OUTCOMES = {0: "success", 4: "refused or failed (minor)", 8: "failed (serious)"}


def access_report_csv(rows: list[AuditRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                format_instant(row.recorded),
                row.event_id,
                row.subtype,
                row.action,
                _OUTCOMES.get(row.outcome, str(row.outcome)),
                row.client_id or "",
                row.ods_code or "",
                ";".join(row.referred(AGENT)),
                row.purpose or "",
                ";".join(row.referred(ENTITY)),
                row.request_id or "",
            ]
        )
    return buffer.getvalue()
