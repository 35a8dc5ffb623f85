"""The step-up runs' receiver: bench/outbox's loopback Trust (a bare ASGI app under
uvicorn, its own process; 200 for a new X-Request-ID, 409 duplicate for a repeat) that
also notes, for each message it stores, when it arrived and which escalation step it
carries.

The arrival time is the wall clock (`time.time()`, the clock the gateway's deadlines are
written with, on the same machine) read as soon as the whole message is in, before it
is parsed or answered. The step is the message's Communication: its id, its ladder level
(its category), its own response deadline, and, on a step the gateway took, the missed
step it follows (the `escalation-previous-step` extension). `GET /arrivals` answers the
list; `POST /reset` forgets it with everything else.

    python -m bench.ladders.receiver --port 8765
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.outbox.receiver import Receiver, main

EXTENSIONS = "https://fhir.mh-gateway.example.org/StructureDefinition/"
DEADLINE = EXTENSIONS + "response-deadline"
PREVIOUS_STEP = EXTENSIONS + "escalation-previous-step"
LEVELS = ("front-line", "manager", "senior")


class LadderReceiver(Receiver):
    keeps_bodies = True

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.arrivals: list[dict[str, Any]] = []

    def kept(self, request_id: str, body: bytes) -> None:
        arrived = time.time()
        self.arrivals.append({"request_id": request_id, "arrived": arrived, **step_of(body)})

    @property
    def views(self) -> dict[str, Callable[[], Any]]:
        return {"/arrivals": lambda: self.arrivals}

    def reset(self) -> None:
        super().reset()
        self.arrivals.clear()


def step_of(body: bytes) -> dict[str, Any]:
    """The escalation step a BaRS message carries: its Communication's id, level,
    deadline and the step it follows (None where the message says nothing)."""
    try:
        message = json.loads(body)
    except ValueError:
        return {"communication": None, "level": None, "deadline": None, "previous": None}
    for entry in message.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") != "Communication":
            continue
        extensions = {e.get("url"): e for e in resource.get("extension", [])}
        codes = [
            coding.get("code")
            for category in resource.get("category", [])
            for coding in category.get("coding", [])
        ]
        previous = extensions.get(PREVIOUS_STEP, {}).get("valueReference", {}).get("reference")
        return {
            "communication": resource.get("id"),
            "level": next((code for code in codes if code in LEVELS), None),
            "deadline": extensions.get(DEADLINE, {}).get("valueDateTime"),
            # "Communication/<id>" (or a full URL ending so): the id.
            "previous": previous.rsplit("/", 1)[-1] if previous else None,
        }
    return {"communication": None, "level": None, "deadline": None, "previous": None}


def run(argv: Sequence[str] | None = None) -> int:
    return main(argv, LadderReceiver, "python -m bench.ladders.receiver")


if __name__ == "__main__":
    sys.exit(run())
