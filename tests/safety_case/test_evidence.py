import os
import subprocess
import sys
from pathlib import Path

from safety_case.evidence import collected_ids, heading_anchors, missing_documents, missing_tests
from tests.safety_case.repository import make_repository

COLLECTED = {
    "tests/test_sample.py::test_direct",
    "tests/test_sample.py::test_asynchronous",
    "tests/test_sample.py::test_parametrised",
    "tests/test_sample.py::TestGroup::test_method",
    "tests/test_sample.py::TestGroup::TestInner::test_nested",
}


def test_functions_methods_and_nested_classes_are_found_and_nothing_else(tmp_path: Path) -> None:
    make_repository(tmp_path)
    assert collected_ids(tmp_path / "tests" / "test_sample.py", tmp_path) == COLLECTED


def test_the_ids_are_the_ones_pytest_collects(tmp_path: Path) -> None:
    make_repository(tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "tests/test_sample.py"],
        cwd=tmp_path,
        # The outer run's options (say --basetemp, which the inner run would wipe) are not
        # the sample's.
        env={name: value for name, value in os.environ.items() if name != "PYTEST_ADDOPTS"},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    node_ids = {line.split("[")[0] for line in collected.stdout.splitlines() if "::" in line}
    assert node_ids == COLLECTED


def test_a_missing_test_a_missing_module_and_a_module_pytest_would_not_collect_are_missing(
    tmp_path: Path,
) -> None:
    make_repository(tmp_path)
    named = [
        *sorted(COLLECTED),
        "tests/test_sample.py::test_renamed",
        "tests/test_sample.py::TestNotCollected::test_hidden",
        "tests/test_sample.py::Helper::test_not_in_a_test_class",
        "tests/test_gone.py::test_direct",
        "tests/helpers.py::test_looks_like_one",
    ]
    assert missing_tests(named, tmp_path) == [
        "tests/helpers.py::test_looks_like_one",
        "tests/test_gone.py::test_direct",
        "tests/test_sample.py::Helper::test_not_in_a_test_class",
        "tests/test_sample.py::TestNotCollected::test_hidden",
        "tests/test_sample.py::test_renamed",
    ]


def test_documents_and_their_anchors_must_exist(tmp_path: Path) -> None:
    make_repository(tmp_path)
    named = [
        "docs/page.md",
        "docs/page.md#a-page",
        "docs/page.md#what-the-deployer-does",
        "docs/page.md#what-nobody-wrote",
        "docs/missing.md",
    ]
    assert missing_documents(named, tmp_path) == [
        "docs/missing.md",
        "docs/page.md#what-nobody-wrote",
    ]


def test_anchors_are_made_as_github_makes_them(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# FHIR REST at `/fhir`\n\n## What the deployer must provide\n")
    assert heading_anchors(page) == {"fhir-rest-at-fhir", "what-the-deployer-must-provide"}
