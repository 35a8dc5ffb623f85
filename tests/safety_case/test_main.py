"""`python -m safety_case`, run as `make safety` runs it, against small repositories and
against this repository's own hazard log."""

import subprocess
import sys
from pathlib import Path

import pytest

from safety_case.__main__ import LOG, REPORT, ROOT, main
from safety_case.evidence import missing_documents, missing_tests
from safety_case.hazard_log import load
from safety_case.report import render
from tests.safety_case.repository import control, hazard, hazard_log, make_repository

PENDING = control(tests=None, pending="issue 16 section 3: 409 on concurrent pushes")


def test_a_complete_log_writes_its_report_then_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_repository(tmp_path)
    assert main(["--root", str(tmp_path)]) == 1  # no report yet: written, to be committed
    assert "was out of date and is rewritten: commit it" in capsys.readouterr().err
    report = (tmp_path / REPORT).read_text()
    assert main(["--root", str(tmp_path)]) == 0
    assert "1 hazards, 1 tests named, all present" in capsys.readouterr().out
    assert (tmp_path / REPORT).read_text() == report


def test_a_stale_report_fails_and_is_rewritten(tmp_path: Path) -> None:
    make_repository(tmp_path)
    main(["--root", str(tmp_path)])
    (tmp_path / REPORT).write_text("edited by hand\n")
    assert main(["--root", str(tmp_path)]) == 1
    assert (tmp_path / REPORT).read_text() == render(load(tmp_path / LOG))


def test_a_named_test_that_does_not_exist_fails_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lost = control(tests=["tests/test_sample.py::test_direct", "tests/test_sample.py::test_gone"])
    make_repository(tmp_path, hazard_log(hazard(controls=[lost])))
    assert main(["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "names evidence that does not exist: tests/test_sample.py::test_gone" in err
    assert "test_direct" not in err
    assert not (tmp_path / REPORT).exists()


def test_a_named_page_that_does_not_exist_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = control(owner="deployer", tests=None, documents=["docs/page.md#no-such-heading"])
    make_repository(tmp_path, hazard_log(hazard(controls=[control(), gone])))
    assert main(["--root", str(tmp_path)]) == 1
    assert "docs/page.md#no-such-heading" in capsys.readouterr().err


def test_pending_evidence_fails_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repository(tmp_path, hazard_log(hazard(controls=[control(), PENDING])))
    main(["--root", str(tmp_path), "--allow-pending"])  # the report, first time round
    capsys.readouterr()
    assert main(["--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "EVIDENCE PENDING for H01: issue 16 section 3: 409 on concurrent pushes" in err
    assert "1 control(s) have pending evidence" in err
    assert main(["--root", str(tmp_path), "--allow-pending"]) == 0
    monkeypatch.setenv("SAFETY_ALLOW_PENDING", "1")
    assert main(["--root", str(tmp_path)]) == 0
    assert "EVIDENCE PENDING for H01" in capsys.readouterr().err  # allowed, still said


def test_a_malformed_log_exits_2_naming_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_repository(
        tmp_path, hazard_log(hazard(initial={"likelihood": "high", "consequence": "major"}))
    )
    assert main(["--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: hazards[0] (H01).initial.rating: None is not what the DCB0129 matrix" in err


def test_make_safety_runs_the_module_from_the_repository(tmp_path: Path) -> None:
    make_repository(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "safety_case", "--root", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    assert "commit it" in run.stderr


def test_this_repositorys_log_names_only_evidence_that_exists_and_its_report_is_current() -> None:
    log = load(ROOT / LOG)
    controls = [c for h in log.hazards for c in h.controls]
    assert missing_tests((t for c in controls for t in c.tests), ROOT) == []
    assert missing_documents((d for c in controls for d in c.documents), ROOT) == []
    assert (ROOT / REPORT).read_text(encoding="utf-8") == render(log)
