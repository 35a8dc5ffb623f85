"""pathways.yaml: the checklists per pathway and locality, the input limits, the
localities and the decline reasons; a bad or missing file stops the start, naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.handover.checklist import Requirement, check_completeness
from core.handover.dataset_input import parse_dataset
from gateway.configuration.loader import load_config
from gateway.configuration.pathways import DECLINE_REASON_SYSTEM
from tests.configuration.support import configured_with, demo_file, refusal
from tests.conftest import DEMO_CONFIG
from tests.paths import EXAMPLES

PATHWAYS = ("referral", "step-up", "crisis", "discharge-follow-up", "safeguarding")


def demo_pathways() -> dict[str, Any]:
    return demo_file("pathways.yaml")


def configured(tmp_path: Path, pathways: dict[str, Any] | None) -> Path:
    return configured_with(tmp_path, "pathways.yaml", pathways)


def test_the_demo_has_a_checklist_for_every_pathway_in_the_spec() -> None:
    pathways = load_config(DEMO_CONFIG).pathways
    for pathway in PATHWAYS:
        checklist = pathways.checklist_for(pathway, None)
        assert checklist is not None
        assert checklist.pathway == pathway
        assert any(r.severity == "error" for r in checklist.requirements)
    crisis = pathways.checklist_for("crisis", None)
    assert crisis is not None
    assert Requirement("time_sensitivity.respond_by", "error") in crisis.requirements
    safeguarding = pathways.checklist_for("safeguarding", None)
    assert safeguarding is not None
    assert Requirement("sharing.basis", "error") in safeguarding.requirements
    assert Requirement("key_risks", "error") in safeguarding.requirements


def test_the_demo_limits_and_localities_become_the_rules() -> None:
    config = load_config(DEMO_CONFIG)
    rules = config.pathways.rules
    assert rules.max_text_length == 4000
    assert rules.respond_by_tolerance == timedelta(minutes=15)
    assert rules.localities == {"north", "south", "drill"}
    assert rules.pathways == set(PATHWAYS)
    # Every organisation's locality is a configured one.
    assert {o.locality for o in config.directory.organisations} <= rules.localities


def test_localities_and_services_have_the_names_people_read() -> None:
    pathways = load_config(DEMO_CONFIG).pathways
    assert pathways.locality_names == {
        "north": "North Exampleshire",
        "south": "South Exampleshire",
        "drill": "Drill (rehearsal ladder: 20-second steps)",
    }
    assert "north" in pathways.localities
    services = pathways.service_names
    assert (
        services["crisis-resolution-home-treatment"] == "Crisis resolution and home treatment team"
    )
    # Every service the examples and golden datasets name has its name.
    assert {"community-mental-health-team", "adult-safeguarding"} <= set(services)


def test_localities_as_a_bare_list_and_no_services_still_load(tmp_path: Path) -> None:
    """The form every pathways.yaml had before names: each locality named by its code."""
    data = demo_pathways()
    data["localities"] = ["north", "south", "drill"]
    del data["services"]
    pathways = load_config(configured(tmp_path, data)).pathways
    assert pathways.locality_names == {"north": "north", "south": "south", "drill": "drill"}
    assert pathways.rules.localities == {"north", "south", "drill"}
    assert pathways.service_names == {}


def test_the_demo_decline_reasons() -> None:
    pathways = load_config(DEMO_CONFIG).pathways
    codes = [reason.code for reason in pathways.decline_reasons]
    assert len(codes) == len(set(codes))
    assert {"not-eligible", "insufficient-information", "wrong-service", "other"} <= set(codes)
    # As the answer rules read them (gateway.handovers.referral_answers): code to display.
    displays = {reason.code: reason.display for reason in pathways.decline_reasons}
    assert displays["capacity"]
    assert "holiday" not in displays
    assert DECLINE_REASON_SYSTEM == "https://fhir.mh-gateway.example.org/CodeSystem/decline-reason"


def test_a_locality_override_tightens_one_requirement_and_keeps_the_rest() -> None:
    pathways = load_config(DEMO_CONFIG).pathways
    base = pathways.checklist_for("crisis", None)
    north = pathways.checklist_for("crisis", "north")
    assert base is not None
    assert north is not None
    assert Requirement("sender.contact", "warning") in base.requirements
    assert Requirement("sender.contact", "error") in north.requirements
    # Same fields, same order; only the one severity differs.
    assert [r.field for r in north.requirements] == [r.field for r in base.requirements]
    changed = set(north.requirements) - set(base.requirements)
    assert changed == {Requirement("sender.contact", "error")}
    # A locality without an override, or an unknown one, gets the pathway's checklist.
    assert pathways.checklist_for("crisis", "south") == base
    assert pathways.checklist_for("crisis", "elsewhere") == base
    # The override is on crisis only.
    assert pathways.checklist_for("referral", "north") == pathways.checklist_for("referral", None)


def test_an_override_may_loosen_and_add(tmp_path: Path) -> None:
    data = demo_pathways()
    data["overrides"]["south"] = {
        "referral": {"requirements": {"key_risks": "warning", "legal.capacity_concerns": "error"}}
    }
    pathways = load_config(configured(tmp_path, data)).pathways
    south = pathways.checklist_for("referral", "south")
    assert south is not None
    assert Requirement("key_risks", "warning") in south.requirements
    assert Requirement("key_risks", "error") not in south.requirements
    assert south.requirements[-1] == Requirement("legal.capacity_concerns", "error")


def test_a_pathway_without_a_checklist_has_none(tmp_path: Path) -> None:
    data = demo_pathways()
    data["pathways"] = {"crisis": data["pathways"]["crisis"]}
    pathways = load_config(configured(tmp_path, data)).pathways
    assert pathways.checklist_for("referral", None) is None
    assert pathways.checklist_for("referral", "north") is None
    assert pathways.rules.pathways == {"crisis"}


def test_the_demo_checklists_take_the_spec_examples() -> None:
    pathways = load_config(DEMO_CONFIG).pathways
    handover = parse_dataset(json.loads((EXAMPLES / "handover-crisis.json").read_text()))
    north = pathways.checklist_for(handover.pathway, handover.locality)
    assert north is not None
    assert check_completeness(handover, north).complete
    escalation = parse_dataset(json.loads((EXAMPLES / "escalation-manager.json").read_text()))
    result = check_completeness(escalation, north)
    # No call-back contact: an error in north, but an emergency is never refused.
    assert result.accepted
    assert [gap.field for gap in result.warnings] == ["sender.contact"]


def test_a_missing_pathways_file_stops_the_start(tmp_path: Path) -> None:
    message = refusal(configured(tmp_path, None))
    assert "pathways.yaml: file is missing" in message


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        for part in parents:
            data = data[part]
        data[last] = value

    return change


def _add_decline(code: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["decline_reasons"].append({"code": code, "display": "Again"})

    return change


def _requirement(pathway: str, field: str, severity: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["pathways"][pathway]["requirements"][field] = severity

    return change


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        pytest.param(
            _requirement("crisis", "curent_presentation", "error"),
            "pathways.crisis.requirements.curent_presentation",
            "did you mean current_presentation",
            id="misspelt-field",
        ),
        pytest.param(
            _requirement("crisis", "key_risks.description", "error"),
            "pathways.crisis.requirements.key_risks.description",
            "not a field",
            id="field-inside-a-list",
        ),
        pytest.param(
            _requirement("referral", "current_plan", "fatal"),
            "pathways.referral.requirements.current_plan",
            "'error' or 'warning'",
            id="unknown-severity",
        ),
        pytest.param(
            _set("pathways/triage", {"requirements": {}}),
            "pathways.triage",
            "referral",
            id="unknown-pathway",
        ),
        pytest.param(_set("pathways", {}), "pathways", "at least 1", id="no-pathways"),
        pytest.param(_add_decline("capacity"), "decline_reasons", "capacity", id="dup-decline"),
        pytest.param(
            _add_decline("Not_Eligible"), "decline_reasons.8.code", "pattern", id="decline-code"
        ),
        pytest.param(
            _set("overrides/east", {"crisis": {"requirements": {"current_plan": "error"}}}),
            "overrides",
            "east is not one of the localities",
            id="override-unknown-locality",
        ),
        pytest.param(
            _set("overrides/south", {"crisis": {"requirements": {"current_plan": "sometimes"}}}),
            "overrides.south.crisis.requirements.current_plan",
            "'error' or 'warning'",
            id="override-bad-severity",
        ),
        pytest.param(
            _set("localities", ["north", "south", "north"]),
            "localities",
            "only once",
            id="dup-locality",
        ),
        pytest.param(
            _set("limits/max_text_length", 0), "limits.max_text_length", "", id="zero-limit"
        ),
        pytest.param(
            _set("limits/respond_by_tolerance_minutes", -5),
            "limits.respond_by_tolerance_minutes",
            "",
            id="negative-tolerance",
        ),
        pytest.param(_set("colour", "red"), "colour", "Extra inputs", id="unknown-key"),
        pytest.param(
            _set("localities/north", {"nam": "North"}),
            "localities.north.name",
            "Field required",
            id="locality-without-name",
        ),
        pytest.param(
            _set("localities/north", {"name": ""}),
            "localities.north.name",
            "at least 1",
            id="locality-blank-name",
        ),
        pytest.param(_set("localities", {}), "localities", "at least one", id="no-locality"),
        pytest.param(
            _set("localities", ["north", 7]), "localities", "list of codes", id="locality-number"
        ),
        pytest.param(
            _set("services/crisis-resolution-home-treatment", "CRHT"),
            "services.crisis-resolution-home-treatment",
            "valid dictionary",
            id="service-without-name",
        ),
    ],
)
def test_a_bad_pathways_file_names_the_file_and_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], field: str, words: str
) -> None:
    data = demo_pathways()
    change(data)
    message = refusal(configured(tmp_path, data))
    assert "pathways.yaml: " in message
    assert field in message
    assert words in message


def test_an_override_of_a_pathway_without_a_checklist_is_refused(tmp_path: Path) -> None:
    data = demo_pathways()
    del data["pathways"]["referral"]
    data["overrides"]["south"] = {"referral": {"requirements": {"current_plan": "error"}}}
    message = refusal(configured(tmp_path, data))
    assert "pathways.yaml: overrides" in message
    assert "south.referral" in message


def test_an_organisation_in_an_unknown_locality_is_refused(tmp_path: Path) -> None:
    data = demo_pathways()
    data["localities"] = ["south"]
    data["overrides"] = {}
    message = refusal(configured(tmp_path, data))
    assert "organisations.yaml: organisations.0.locality" in message
    assert "pathways.yaml" in message
