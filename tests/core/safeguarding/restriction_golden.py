"""Golden files for the restriction -> FHIR mapping: tests/core/safeguarding/golden/
<case>.restriction.json (the API JSON of a stored restriction) and <case>.fhir.json (the
Flag it is). Cases are made from examples/restriction.json by the core's own rules, so
they are restrictions the API can hold. Regenerate after a deliberate mapping change:

    .venv/bin/python -m tests.core.safeguarding.restriction_golden
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.safeguarding.restrictions import (
    Restriction,
    RestrictionRules,
    created,
    expired,
    parse_new,
    parse_review,
    reviewed,
)
from core.safeguarding.restrictions_fhir import to_flag
from tests.paths import REPO

GOLDEN = Path(__file__).resolve().parent / "golden"
RULES = RestrictionRules(max_review_interval=timedelta(days=28))
LATER = datetime(2030, 1, 1, tzinfo=UTC)
REVIEWER = {"name": "Dr Example Reviewer", "role": "Responsible clinician"}


def _new() -> Restriction:
    body = json.loads((REPO / "examples" / "restriction.json").read_text())
    return created(parse_new(body), "restriction-example", RULES)


def _review(current: Restriction, **body: Any) -> Restriction:
    return reviewed(current, parse_review({"reviewed_by": REVIEWER, **body}), RULES, LATER)


def cases() -> dict[str, Restriction]:
    new = _new()
    continued = _review(
        new,
        reviewed_at="2026-12-15T10:00:00Z",
        decision="continue",
        reason="Still meeting the two adults when she can; strategy meeting not yet held.",
        next_review_date="2026-12-22T10:00:00Z",
        time_limit="2027-01-05T09:00:00Z",
    )
    stepped = _review(
        continued,
        reviewed_at="2026-12-22T10:00:00+00:00",
        decision="step-down",
        reason="Disruption plan in place; she has kept to it for a week.",
        next_review_date="2026-12-29T10:00:00Z",
        stepped_down_to={"kind": "contact", "detail": "Supervised contact with the two adults."},
    )
    ended = _review(
        stepped,
        reviewed_at="2026-12-29T10:00:00Z",
        decision="end",
        reason="No contact sought for two weeks; her own safety plan is enough.",
    )
    return {
        "new": new,
        "continued-with-a-later-time-limit": continued,
        "stepped-down": stepped,
        "ended-by-review": ended,
        "expired": expired(new),
    }


def main() -> None:
    for name, restriction in cases().items():
        (GOLDEN / f"{name}.restriction.json").write_text(
            json.dumps(restriction.as_json(), indent=2, ensure_ascii=False) + "\n"
        )
        (GOLDEN / f"{name}.fhir.json").write_text(
            json.dumps(to_flag(restriction), indent=2, ensure_ascii=False) + "\n"
        )


if __name__ == "__main__":
    main()
