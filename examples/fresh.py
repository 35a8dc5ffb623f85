"""Print one of the spec's example datasets, ready to push now.

    python3 examples/fresh.py handover   | curl ... -d @-
    python3 examples/fresh.py escalation | curl ...
    python3 examples/fresh.py drill      | curl ...   (a front-line escalation in the demo's
                                                      "drill" locality: 20-second ladder steps)
    python3 examples/fresh.py restriction | curl ... /api/restrictions -d @-
                                                     (a restriction starting now, its review
                                                      date and time limit as far ahead as in
                                                      examples/restriction.json)
    python3 examples/fresh.py safeguarding-action | curl ... /api/safeguarding/actions
                                                     (a safeguarding action due in two days)

The examples' respond-by times have passed, and a dataset's external_id may be used
once per sender, so each run gives a new external_id and a respond-by two hours ahead.
Standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

EXAMPLES = {
    "handover": "handover-crisis.json",
    "escalation": "escalation-manager.json",
    "drill": "escalation-manager.json",
    "restriction": "restriction.json",
    "safeguarding-action": "safeguarding-action.json",
}
# Its dates, each moved by as much as its start is, to start now.
RESTRICTION_DATES = ("start", "time_limit", "review_date")


def restriction(body: dict[str, object], now: datetime) -> dict[str, object]:
    """The restriction example starting at `now`, its other dates as far after it."""
    start = datetime.fromisoformat(str(body["start"]))
    moved = dict(body)
    for name in RESTRICTION_DATES:
        then = datetime.fromisoformat(str(body[name])) - start + now
        moved[name] = then.isoformat(timespec="seconds").replace("+00:00", "Z")
    return moved


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in EXAMPLES:
        print(f"usage: python3 {argv[0]} {'|'.join(EXAMPLES)}", file=sys.stderr)
        return 2
    dataset = json.loads((Path(__file__).parent / EXAMPLES[argv[1]]).read_text())
    if argv[1] == "restriction":
        now = datetime.now(UTC).replace(microsecond=0)
        print(json.dumps(restriction(dataset, now), indent=2))
        return 0
    if argv[1] == "safeguarding-action":
        # An action has a deadline, not a respond-by, and no external id: due in two days.
        due = datetime.now(UTC) + timedelta(days=2)
        dataset["deadline"] = due.isoformat(timespec="seconds")
        print(json.dumps(dataset, indent=2))
        return 0
    dataset["external_id"] = f"{dataset['external_id']}-{uuid.uuid4().hex[:8]}"
    due = datetime.now(UTC) + timedelta(hours=2)
    dataset["time_sensitivity"]["respond_by"] = due.isoformat(timespec="seconds")
    if argv[1] == "drill":
        # The demo's rehearsal locality (config/demo/ladders.yaml): nobody answers, and
        # the gateway steps it up a level every 20 seconds or so.
        dataset["locality"] = "drill"
        dataset["escalation"]["level"] = "front-line"
    print(json.dumps(dataset, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
