"""`python -m safety_case`: check the hazard log's evidence and write the safety case report.

Exit 0: the report is up to date and every control's evidence exists.
Exit 1: a named test or document is missing, evidence is pending (unless allowed with
--allow-pending or SAFETY_ALLOW_PENDING=1), or the committed report was stale (it is
rewritten, to be committed).
Exit 2: the hazard log is malformed (the file and the field are named).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from safety_case.evidence import missing_documents, missing_tests
from safety_case.hazard_log import HazardLogError, load
from safety_case.report import REPORT_FOLDER, pending_controls, render

ROOT = Path(__file__).resolve().parent.parent
LOG = Path("docs/safety/hazard-log.yaml")
REPORT = Path(REPORT_FOLDER) / "safety-case.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m safety_case", description=__doc__)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository (default: this one)"
    )
    parser.add_argument(
        "--allow-pending",
        action="store_true",
        default=os.environ.get("SAFETY_ALLOW_PENDING") == "1",
        help="report controls with pending evidence but do not fail (SAFETY_ALLOW_PENDING=1)",
    )
    arguments = parser.parse_args(argv)
    return run(arguments.root, allow_pending=arguments.allow_pending)


def run(root: Path, *, allow_pending: bool) -> int:
    try:
        log = load(root / LOG)
    except HazardLogError as error:
        print(f"safety: the hazard log is malformed: {error}", file=sys.stderr)
        return 2
    controls = [control for hazard in log.hazards for control in hazard.controls]
    lost = missing_tests((t for c in controls for t in c.tests), root)
    lost += missing_documents((d for c in controls for d in c.documents), root)
    for name in lost:
        print(f"safety: a control names evidence that does not exist: {name}", file=sys.stderr)
    if lost:
        return 1

    report = root / REPORT
    text = render(log)
    stale = not report.is_file() or report.read_text(encoding="utf-8") != text
    if stale:
        report.write_text(text, encoding="utf-8")
        print(f"safety: {REPORT} was out of date and is rewritten: commit it", file=sys.stderr)

    pending = pending_controls(log)
    for hazard, control in pending:
        print(f"safety: EVIDENCE PENDING for {hazard.id}: {control.pending}", file=sys.stderr)
    if pending and not allow_pending:
        print(
            f"safety: {len(pending)} control(s) have pending evidence; name their tests in "
            f"{LOG} (or set SAFETY_ALLOW_PENDING=1 to look at the report meanwhile)",
            file=sys.stderr,
        )
        return 1
    tests = sum(len(c.tests) for c in controls)
    if not stale:
        print(f"safety: {len(log.hazards)} hazards, {tests} tests named, all present")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
