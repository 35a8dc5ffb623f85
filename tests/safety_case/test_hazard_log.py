from pathlib import Path
from typing import Any

import pytest

from safety_case.hazard_log import HazardLogError, Kind, Owner, Status, load
from safety_case.matrix import Consequence, Likelihood
from tests.safety_case.repository import control, hazard, hazard_log, make_repository


def test_a_well_formed_log_is_read_into_values(tmp_path: Path) -> None:
    log = load(make_repository(tmp_path))
    (only,) = log.hazards
    assert only.id == "H01"
    assert only.status is Status.TRANSFERRED
    assert only.initial.likelihood is Likelihood.HIGH
    assert only.residual.consequence is Consequence.MAJOR
    assert only.residual.rating == 3
    assert only.mitigated_by == ("issue 5",)
    manufacturer, deployer = only.controls
    assert manufacturer.owner is Owner.MANUFACTURER
    assert manufacturer.tests == ("tests/test_sample.py::test_direct",)
    assert deployer.kind is Kind.BUSINESS_PROCESS
    assert deployer.documents == ("docs/page.md#what-the-deployer-does",)
    assert log.reviewed == "2026-12-07"


MALFORMED: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "a rating that is not the matrix's",
        hazard(residual={"likelihood": "low", "consequence": "major", "rating": 2}),
        "hazards[0] (H01).residual.rating",
        "gives for low likelihood and major consequence (3)",
    ),
    (
        "an unknown likelihood",
        hazard(initial={"likelihood": "rare", "consequence": "major", "rating": 3}),
        "hazards[0] (H01).initial.likelihood",
        "'rare' is not one of",
    ),
    (
        "a missing consequence",
        hazard(initial={"likelihood": "high", "rating": 4}),
        "hazards[0] (H01).initial.consequence",
        "None is not one of",
    ),
    (
        "a residual worse than the initial risk",
        hazard(
            initial={"likelihood": "low", "consequence": "major", "rating": 3},
            residual={"likelihood": "high", "consequence": "major", "rating": 4},
        ),
        "hazards[0] (H01).residual.rating",
        "higher than the initial",
    ),
    (
        "an unacceptable residual",
        hazard(
            initial={"likelihood": "high", "consequence": "catastrophic", "rating": 5},
            residual={"likelihood": "medium", "consequence": "catastrophic", "rating": 4},
        ),
        "hazards[0] (H01).residual.rating",
        "4 is not acceptable",
    ),
    (
        "no causes",
        hazard(causes=[]),
        "hazards[0] (H01).causes",
        "non-empty list",
    ),
    (
        "an unknown field",
        hazard(severity="high"),
        "hazards[0] (H01).severity",
        "is not a field here",
    ),
    (
        "a bad id",
        hazard(id="HAZ-1"),
        "hazards[0].id",
        "not of the form H01",
    ),
    (
        "an issue named loosely",
        hazard(mitigated_by=["#16"]),
        "hazards[0] (H01).mitigated_by[0]",
        "not of the form 'issue 7'",
    ),
    (
        "a node id with parameters",
        hazard(controls=[control(tests=["tests/test_sample.py::test_parametrised[1]"])]),
        "hazards[0] (H01).controls[0].tests[0]",
        "without its [parameters]",
    ),
    (
        "something that is not a node id",
        hazard(controls=[control(tests=["test_direct"])]),
        "hazards[0] (H01).controls[0].tests[0]",
        "is not a pytest node id",
    ),
    (
        "a manufacturer's control without evidence",
        hazard(controls=[control(tests=None, documents=["docs/page.md"])]),
        "hazards[0] (H01).controls[0].tests",
        "names the tests that prove it",
    ),
    (
        "an unknown owner",
        hazard(controls=[control(owner="the trust")]),
        "hazards[0] (H01).controls[0].owner",
        "'the trust' is not one of: manufacturer, deployer",
    ),
    (
        "an unknown status",
        hazard(status="done"),
        "hazards[0] (H01).status",
        "'done' is not one of: open, transferred, closed",
    ),
]


@pytest.mark.parametrize(
    ("entry", "field", "problem"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_a_malformed_hazard_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, entry: dict[str, Any], field: str, problem: str
) -> None:
    path = make_repository(tmp_path, hazard_log(entry))
    with pytest.raises(HazardLogError) as refused:
        load(path)
    assert refused.value.path == str(path)
    assert refused.value.field == field
    assert problem in refused.value.problem
    assert str(refused.value).startswith(f"{path}: {field}: ")


def test_a_hazard_id_used_twice_is_refused(tmp_path: Path) -> None:
    path = make_repository(tmp_path, hazard_log(hazard(), hazard(title="Another")))
    with pytest.raises(HazardLogError) as refused:
        load(path)
    assert refused.value.field == "hazards[1].id"


def test_a_top_level_field_missing_is_named(tmp_path: Path) -> None:
    log = hazard_log()
    del log["scope"]
    with pytest.raises(HazardLogError) as refused:
        load(make_repository(tmp_path, log))
    assert refused.value.field == "scope"


def test_text_that_is_not_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = make_repository(tmp_path)
    path.write_text("system: gateway\nhazards: [\n  - id: H01\n")
    with pytest.raises(HazardLogError) as refused:
        load(path)
    assert refused.value.field.startswith("line ")
    assert refused.value.problem == "is not valid YAML"
