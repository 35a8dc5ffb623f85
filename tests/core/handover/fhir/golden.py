"""Golden files for the dataset -> FHIR mapping: tests/core/handover/golden/<case>.dataset.json
in, <case>.fhir.json out (the four parts of to_fhir, under fixed ids and a fixed
received_at, with the SHA-256 of the input file's bytes).

Regenerate after an intended change, then review the diff before committing:

    .venv/bin/python -m tests.core.handover.fhir.golden
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.handover.dataset import EscalationSummary, Handover
from core.handover.dataset_input import parse_dataset
from core.handover.fhir.elements import ResourceIds
from core.handover.fhir.resources import DatasetResources, to_fhir

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RECEIVED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_DATASET_SUFFIX = ".dataset.json"


def cases() -> list[str]:
    return sorted(path.name.removesuffix(_DATASET_SUFFIX) for path in GOLDEN.glob("*.dataset.json"))


def dataset_path(case: str) -> Path:
    return GOLDEN / f"{case}{_DATASET_SUFFIX}"


def fhir_path(case: str) -> Path:
    return GOLDEN / f"{case}.fhir.json"


def load(case: str) -> Handover | EscalationSummary:
    return parse_dataset(json.loads(dataset_path(case).read_bytes()))


def ids(case: str, dataset: Handover | EscalationSummary) -> ResourceIds:
    return ResourceIds(
        service_request=f"sr-{case}",
        communication=f"comm-{case}",
        provenance=f"prov-{case}",
        flags=tuple(f"flag-{case}-{n}" for n in range(1, len(dataset.key_risks) + 1)),
    )


def resources(case: str) -> tuple[Handover | EscalationSummary, DatasetResources]:
    raw = dataset_path(case).read_bytes()
    dataset = parse_dataset(json.loads(raw))
    made = to_fhir(
        dataset,
        ids(case, dataset),
        received_at=RECEIVED_AT,
        dataset_sha256=hashlib.sha256(raw).hexdigest(),
    )
    return dataset, made


def render(case: str) -> dict[str, Any]:
    """The golden output for `case`, as a JSON object."""
    _, made = resources(case)
    return {
        "service_request": made.service_request,
        "flags": list(made.flags),
        "communication": made.communication,
        "provenance": made.provenance,
    }


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for case in cases():
        fhir_path(case).write_text(dumps(render(case)), encoding="utf-8")
        print(f"wrote {fhir_path(case).relative_to(GOLDEN.parents[2])}")


if __name__ == "__main__":
    main()
