"""The patient access report as CSV: one line per access to the person's record, for a
subject access request, oldest first. Every value is the event's signed bytes' own
(gateway.access_log.search checks the row against them first).

Some cells carry what a client sent (a practitioner's identifier, a request id), and the
report is opened in spreadsheets: a cell beginning `=`, `+`, `-`, `@`, tab or carriage
return would run as a formula. As OWASP advises for CSV injection, such a cell gets a
single quote in front (so does one that already began with a quote, so that removing
one leading quote always gives back the recorded value), and every cell is quoted.
"""

from __future__ import annotations

import csv
import io

from core.fhir.dates import format_instant
from gateway.access_log.log import AGENT, ENTITY
from gateway.access_log.search import AuditRow

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
# The fullwidth forms too: some spreadsheets read them as their ASCII twins.
FORMULA_TRIGGERS = frozenset("=+-@\t\r'\uff1d\uff0b\uff0d\uff20")
_OUTCOMES = {0: "success", 4: "refused or failed (minor)", 8: "failed (serious)"}


def access_report_csv(rows: list[AuditRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        cells = [
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
        writer.writerow([inert_cell(cell) for cell in cells])
    return buffer.getvalue()


def inert_cell(value: str) -> str:
    """The value as a spreadsheet shows it as text, never evaluates it."""
    return f"'{value}" if value[:1] in FORMULA_TRIGGERS else value
