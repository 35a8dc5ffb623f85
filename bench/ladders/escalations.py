"""What the step-up runs send, and the ladder they climb.

- **Escalations**: the spec's escalation example (examples/escalation-manager.json, via
  bench/handovers/examples.py) sent at level front-line, as the ladder's first step, each
  with an external_id and a patient (a valid NHS number) of its own, so none is a repeat
  of another (pathways.yaml's crisis pathway opens a manager review at the third about one
  person in 7 days), and a respond-by two hours ahead, so the ladder's short times set
  every deadline. Sender AZZ (client bench-azz), receiver RZZ, locality north, priority
  emergency: the example's own.
- **The ladder** (`ladders.yaml`): RZZ, every pathway and locality, front-line, manager
  and senior, each given `step` (PT3S) at every priority; front-line and manager step up
  when missed, senior notifies. So an escalation nobody answers makes two step-ups, each
  delivered to the push receiver, then a ladder notice.
- **The endpoint** (`endpoints.yaml`): RZZ pushes to the receiver (bench/outbox's
  endpoints_yaml: concurrency 4, the default retry).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.data import nhs_number
from bench.handovers.examples import ESCALATION, example
from bench.outbox.processes import endpoints_yaml

# Apart from every other benchmark's patients (bench/ladders/steps.py says where).
ESCALATION_PATIENT_OFFSET = 7_500_000
RESPOND_IN = timedelta(hours=2)
CONTACTS = {
    "front-line": ("Crisis resolution team duty line", "01632 960100"),
    "manager": ("Crisis team duty manager", "01632 960101"),
    "senior": ("Trust on-call manager", "01632 960102"),
}
PRIORITIES = ("emergency", "very-urgent", "urgent", "routine")


class Escalations:
    """Bodies for POST /api/escalations, numbered from `first`."""

    def __init__(self, label: str, now: datetime, *, first: int = 0) -> None:
        self._template = example(ESCALATION, now + RESPOND_IN)
        self._template["escalation"] = {**self._template["escalation"], "level": "front-line"}
        self._label = label
        self._next = first

    @property
    def sender(self) -> str:
        return str(self._template["sender"]["ods"])

    def body(self) -> bytes:
        number = self._next
        self._next += 1
        body: dict[str, Any] = dict(self._template)
        body["external_id"] = f"BENCH-LADDER-{self._label}-{number:08d}"
        body["patient"] = {
            **self._template["patient"],
            "nhs_number": nhs_number(ESCALATION_PATIENT_OFFSET + number),
        }
        return json.dumps(body).encode()


def ladders_yaml(step: str) -> str:
    """RZZ's ladder with `step` (ISO 8601) at every level and priority."""
    levels = [
        {
            "level": level,
            "contact": {"name": name, "telephone": telephone},
            "respond_within": dict.fromkeys(PRIORITIES, step),
            "on_missed": "notify" if level == "senior" else "step-up",
        }
        for level, (name, telephone) in CONTACTS.items()
    ]
    ladder = {"receiver": "RZZ", "pathway": "*", "locality": "*", "levels": levels}
    return "# bench/ladders: every step " + step + "\n" + yaml.safe_dump({"ladders": [ladder]})


def configure(config_dir: Path, receiver_fhir: str, step: str) -> None:
    """Give the benchmark's configuration (bench/auth.py's) the ladder and the endpoint."""
    (config_dir / "ladders.yaml").write_text(ladders_yaml(step))
    (config_dir / "endpoints.yaml").write_text(endpoints_yaml(receiver_fhir))
