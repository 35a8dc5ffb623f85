"""The weekly safeguarding huddle for one organisation: what is open, what is overdue,
what was completed in the week, and the partner contacts made in it; as JSON and as one
printable HTML page.

A week is an ISO 8601 week (`2026-W50`), Monday to Monday in England's local time, as
the huddle meets. An action is listed under the week if it was open at some time in it;
overdue means past its deadline and not completed at the earlier of now and the week's
end. Every value on the page is escaped and isolated (core.handover.summary_markup); the
page runs and loads nothing, its Content-Security-Policy allows only its own stylesheet
(by hash), and it prints on A4. The title names no person. Pure: no clock, no locale.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.codes import safeguarding as codes
from core.fhir.issues import ContentError, Issue, IssueCode
from core.handover.summary_markup import ENGLAND, at_time, escaped, isolated

_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")


@dataclass(frozen=True, slots=True)
class Week:
    label: str  # 2026-W50
    start: datetime  # Monday 00:00 in England, as UTC
    end: datetime  # the next Monday 00:00 in England, as UTC


def iso_week(text: str) -> Week:
    """The ISO week `YYYY-Www`; ContentError naming `week` when it is not one."""
    match = _WEEK.fullmatch(text)
    try:
        if match is None:
            raise ValueError
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise ContentError(
            [Issue(IssueCode.VALUE, "week must be an ISO 8601 week, YYYY-Www (2026-W50).", "week")]
        ) from None
    start = datetime.combine(monday, time(), ENGLAND).astimezone(UTC)
    end = datetime.combine(monday + timedelta(days=7), time(), ENGLAND).astimezone(UTC)
    return Week(text, start, end)


def week_of(moment: datetime) -> str:
    """The ISO week `moment` falls in, in England."""
    year, week, _ = moment.astimezone(ENGLAND).isocalendar()
    return f"{year}-W{week:02d}"


def huddle_json(
    week: Week,
    organisation: str,
    actions: Sequence[Mapping[str, Any]],
    contacts: Sequence[Mapping[str, Any]],
    *,
    as_of: datetime,
) -> dict[str, Any]:
    """The huddle from the actions' and contacts' API views (gateway.safeguarding)."""
    start, end = _instant(week.start), _instant(week.end)
    completed = [
        a
        for a in actions
        if a["status"] == "completed"
        and "completed_at" in a
        and week.start <= _parsed(str(a["completed_at"])) < week.end
    ]
    still_open = [a for a in actions if a["status"] in ("requested", "accepted", "in-progress")]
    return {
        "week": week.label,
        "organisation": organisation,
        "from": start,
        "to": end,
        "as_of": _instant(as_of),
        "open": still_open,
        "overdue": [a for a in still_open if a["overdue"]],
        "completed": completed,
        "contacts": list(contacts),
        "counts": {
            "open": len(still_open),
            "overdue": sum(1 for a in still_open if a["overdue"]),
            "completed": len(completed),
            "contacts": len(contacts),
        },
    }


CSS = """\
:root{color-scheme:light}
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Arial,sans-serif;color:#111;\
margin:0 auto;max-width:72rem;padding:.75rem}
h1{font-size:1.4rem;margin:0 0 .2rem}h2{font-size:1.1rem;margin:1rem 0 .3rem;\
border-bottom:1px solid #bbb}
.counts{display:flex;gap:1.5rem;margin:.4rem 0;font-weight:600}
.overdue{color:#b00020;font-weight:700}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#eef3fa}
.none{color:#444;font-style:italic}
.meta{font-size:.8rem;color:#444;margin-top:1.2rem;border-top:1px solid #bbb;padding-top:.3rem}
@media print{@page{size:A4 landscape;margin:12mm}body{max-width:none;font-size:10pt}\
th{-webkit-print-color-adjust:exact;print-color-adjust:exact}\
tr{break-inside:avoid}section{break-inside:auto}}
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
CSP = f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; base-uri 'none'; form-action 'none'"
HEADER_CSP = f"{CSP}; frame-ancestors 'none'"


def huddle_html(huddle: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The huddle as one HTML5 page; `names`: organisation names by ODS code."""
    counts = huddle["counts"]
    title = f"Safeguarding huddle {huddle['week']}"
    organisation = _organisation(str(huddle["organisation"]), names)
    parts = [
        "<!doctype html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{escaped(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{escaped(title)}</h1>",
        f"<p>{organisation}: {at_time(_parsed(huddle['from']))} to "
        f"{at_time(_parsed(huddle['to']))}</p>",
        '<p class="counts">'
        f"<span>Open: {counts['open']}</span>"
        f'<span class="{"overdue" if counts["overdue"] else ""}">'
        f"Overdue: {counts['overdue']}</span>"
        f"<span>Completed this week: {counts['completed']}</span>"
        f"<span>Partner contacts: {counts['contacts']}</span>"
        "</p>",
        "</header>",
        _actions("overdue", "Overdue", huddle["overdue"], names),
        _actions(
            "open", "Open, not yet due", [a for a in huddle["open"] if not a["overdue"]], names
        ),
        _actions("completed", "Completed this week", huddle["completed"], names),
        _contacts(huddle["contacts"], names),
        f'<footer class="meta">As of {at_time(_parsed(huddle["as_of"]))}. '
        "Overdue: past its deadline and not completed.</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _actions(
    key: str, heading: str, actions: Sequence[Mapping[str, Any]], names: Mapping[str, str]
) -> str:
    head = f'<section id="{key}">\n<h2>{escaped(heading)} ({len(actions)})</h2>'
    if not actions:
        return f'{head}\n<p class="none">None.</p>\n</section>'
    rows = [
        "<tr><th>Deadline</th><th>Action</th><th>Person (NHS number)</th><th>Owner</th>"
        "<th>Raised by</th><th>Priority</th><th>Status</th></tr>"
    ]
    for action in actions:
        kind = codes.ACTION_KINDS.get(str(action["action"]))
        owner = action["owner"]
        team = f" — {isolated(owner['team'])}" if owner.get("team") else ""
        deadline = at_time(_parsed(action["deadline"]))
        if action["overdue"] and action["status"] != "completed":
            deadline = f'<span class="overdue">{deadline} (overdue)</span>'
        description = action.get("description")
        what = escaped(kind.display if kind else str(action["action"]))
        if description:
            what += f"<br>{isolated(str(description))}"
        if action.get("outcome"):
            what += f"<br><strong>Outcome:</strong> {isolated(str(action['outcome']))}"
        rows.append(
            "<tr>"
            f"<td>{deadline}</td>"
            f"<td>{what}</td>"
            f"<td>{escaped(str(action['patient']['nhs_number']))}</td>"
            f"<td>{_organisation(owner['ods'], names)}{team}</td>"
            f"<td>{_organisation(action['requester']['ods'], names)}</td>"
            f"<td>{escaped(_PRIORITIES.get(str(action['priority']), str(action['priority'])))}</td>"
            f"<td>{escaped(_STATUSES.get(str(action['status']), str(action['status'])))}</td>"
            "</tr>"
        )
    return f"{head}\n<table>\n" + "\n".join(rows) + "\n</table>\n</section>"


def _contacts(contacts: Sequence[Mapping[str, Any]], names: Mapping[str, str]) -> str:
    head = f'<section id="contacts">\n<h2>Partner contacts this week ({len(contacts)})</h2>'
    if not contacts:
        return f'{head}\n<p class="none">None.</p>\n</section>'
    rows = [
        "<tr><th>When</th><th>Kind</th><th>Recorded by</th><th>Who was contacted</th>"
        "<th>What was agreed</th></tr>"
    ]
    for contact in contacts:
        kind = codes.CONTACT_KINDS.get(str(contact["kind"]))
        by = _organisation(contact["by"]["ods"], names)
        if contact["by"].get("person"):
            by += f" ({isolated(str(contact['by']['person']))})"
        rows.append(
            "<tr>"
            f"<td>{at_time(_parsed(contact['at']))}</td>"
            f"<td>{escaped(kind.display if kind else str(contact['kind']))}</td>"
            f"<td>{by}</td>"
            f"<td>{isolated(str(contact.get('contacted') or ''))}</td>"
            f"<td>{isolated(str(contact.get('agreed') or 'withheld'))}</td>"
            "</tr>"
        )
    return f"{head}\n<table>\n" + "\n".join(rows) + "\n</table>\n</section>"


_PRIORITIES = {
    "emergency": "Emergency",
    "very-urgent": "Very urgent",
    "urgent": "Urgent",
    "routine": "Routine",
}
_STATUSES = {
    "requested": "Requested",
    "accepted": "Accepted",
    "in-progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


def _organisation(ods: str, names: Mapping[str, str]) -> str:
    name = names.get(ods)
    return f"{escaped(name)} ({escaped(ods)})" if name else escaped(ods)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parsed(text: str) -> datetime:
    return datetime.fromisoformat(text)
