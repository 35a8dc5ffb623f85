"""The datasets the benchmark sends: the spec's examples (examples/), as
the dataset API tests push them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.data import nhs_number

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The in-process measurement's examples: a handover with two key risks, and an escalation
# summary (one key risk, and the escalation section).
HANDOVER = "handover-crisis"
ESCALATION = "escalation-manager"
# Where the pushed handovers' patients come from: apart from bench.data's HTTP creates
# (HTTP_PATIENT_OFFSET, 5,000,000 on) and from the loaded ones.
HANDOVER_PATIENT_OFFSET = 7_000_000


def example(name: str, respond_by: datetime) -> dict[str, Any]:
    """A spec example, due at `respond_by` (the examples' own dates have passed)."""
    body: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    body["time_sensitivity"]["respond_by"] = respond_by.isoformat(timespec="seconds")
    return body


class Handovers:
    """Bodies for POST /api/handovers: the handover example, each with an external_id
    and a patient (a valid NHS number) of its own, due a few hours after the run began.

    The sender (AZZ), receiver (RZZ) and locality (north) are the example's own: both
    organisations are in the benchmark's organisations.yaml and agreement, and north is
    one of pathways.yaml's localities (whose crisis checklist asks for the sender's
    contact, which the example gives)."""

    def __init__(self, label: str, now: datetime, *, first: int = 0) -> None:
        self._template = example(HANDOVER, now + timedelta(hours=4))
        self._label = label
        self._next = first

    @property
    def sender(self) -> str:
        return str(self._template["sender"]["ods"])

    @property
    def risks(self) -> int:
        return len(self._template["key_risks"])

    def body(self) -> bytes:
        number = self._next
        self._next += 1
        body = dict(self._template)
        body["external_id"] = f"BENCH-{self._label}-{number:08d}"
        body["patient"] = {
            **self._template["patient"],
            "nhs_number": nhs_number(HANDOVER_PATIENT_OFFSET + number),
        }
        return json.dumps(body).encode()
