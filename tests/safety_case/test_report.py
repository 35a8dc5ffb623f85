from pathlib import Path

from safety_case.hazard_log import load
from safety_case.matrix import SOURCE
from safety_case.report import GENERATED, pending_controls, render
from tests.safety_case.repository import control, hazard, hazard_log, make_repository


def test_the_report_prints_the_method_the_matrix_and_its_source(tmp_path: Path) -> None:
    report = render(load(make_repository(tmp_path)))
    assert report.startswith(GENERATED)
    assert SOURCE in report
    assert "| Very High | 3 | 4 | 4 | 5 | 5 |" in report
    assert "| Very Low | 1 | 1 | 2 | 2 | 3 |" in report
    assert "| 3 | Undesirable level of risk." in report


def test_each_hazard_shows_its_risks_controls_and_evidence(tmp_path: Path) -> None:
    report = render(load(make_repository(tmp_path)))
    assert (
        "| [H01](#h01-a-crisis-handover-is-refused) | A crisis handover is refused | 4 | 3 |"
        in report
    )
    assert "### H01: A crisis handover is refused" in report
    assert "- **Residual risk**: 3 (low likelihood, major consequence)" in report
    assert "  - test `tests/test_sample.py::test_direct`" in report
    assert "see [docs/page.md#what-the-deployer-does](../page.md#what-the-deployer-does)" in report


def test_the_deployers_controls_are_gathered_for_its_dcb0160_case(tmp_path: Path) -> None:
    report = render(load(make_repository(tmp_path)))
    deployer = report.split("## Controls the deploying organisation carries (DCB0160)")[1]
    assert "- H01 (A crisis handover is refused): The Trust telephones." in deployer
    assert "The gateway refuses it." not in deployer


def test_pending_evidence_is_announced_before_anything_else(tmp_path: Path) -> None:
    pending = control(tests=None, pending="issue 16 section 2: CSV neutralised")
    log = load(make_repository(tmp_path, hazard_log(hazard(controls=[pending]))))
    report = render(log)
    assert [(h.id, c.pending) for h, c in pending_controls(log)] == [
        ("H01", "issue 16 section 2: CSV neutralised")
    ]
    banner = report.index("EVIDENCE PENDING: 1 control(s)")
    assert banner < report.index("## Scope")
    assert "> - H01: issue 16 section 2: CSV neutralised" in report
    assert "  - **EVIDENCE PENDING**: issue 16 section 2: CSV neutralised" in report


def test_without_pending_evidence_there_is_no_banner(tmp_path: Path) -> None:
    assert "EVIDENCE PENDING" not in render(load(make_repository(tmp_path)))


def test_the_same_log_gives_the_same_report(tmp_path: Path) -> None:
    path = make_repository(tmp_path)
    assert render(load(path)) == render(load(path))


def test_the_summary_counts_hazards_by_residual_rating_and_status(tmp_path: Path) -> None:
    low = {"likelihood": "very low", "consequence": "major", "rating": 2}
    log = hazard_log(hazard(), hazard(id="H02", residual=low, status="open"))
    report = render(load(make_repository(tmp_path, log)))
    assert (
        "2 hazards. Residual risk: 1 rated 3, 1 rated 2. Status: 1 open, 1 transferred." in report
    )
