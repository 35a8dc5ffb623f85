"""ladders.yaml: each receiver's agreed ladder; a bad file stops the start, naming the
file and field; the most specific ladder wins; contacts are still read from
endpoints.yaml for one release."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.configuration.loader import load_config
from tests.configuration.support import configured_with, demo_file, refusal
from tests.conftest import DEMO_CONFIG


def demo_ladders() -> dict[str, Any]:
    return demo_file("ladders.yaml")


def configured(tmp_path: Path, ladders: dict[str, Any] | None) -> Path:
    return configured_with(tmp_path, "ladders.yaml", ladders)


def test_the_demo_has_a_ladder_for_every_pathway_and_a_drill() -> None:
    ladders = load_config(DEMO_CONFIG).ladders
    for pathway in ("referral", "step-up", "crisis", "discharge-follow-up", "safeguarding"):
        ladder = ladders.for_escalation("RZZ", pathway, "north")
        assert ladder is not None
        assert [level.level for level in ladder.levels] == ["front-line", "manager", "senior"]
        assert all(level.contact and level.contact.telephone for level in ladder.levels)
    crisis = ladders.for_escalation("RZZ", "crisis", "north")
    assert crisis is not None
    assert crisis.levels[0].within("emergency") == timedelta(minutes=15)
    assert crisis.levels[0].within("routine") == timedelta(days=2)
    drill = ladders.for_escalation("RZZ", "crisis", "drill")
    assert drill is not None
    assert drill.levels[0].within("routine") == timedelta(seconds=20)


def test_the_most_specific_ladder_wins_and_a_receiver_without_one_has_none() -> None:
    ladders = load_config(DEMO_CONFIG).ladders
    safeguarding = ladders.for_escalation("RZZ", "safeguarding", "north")
    general = ladders.for_escalation("RZZ", "crisis", "north")
    assert safeguarding is not None
    assert general is not None
    assert safeguarding.pathway == "safeguarding"
    assert general.pathway == "*"
    # Locality and pathway both named beat pathway alone.
    assert ladders.for_escalation("RZZ", "safeguarding", "drill") is not None
    assert ladders.for_escalation("AZZ", "crisis", "north") is None


def test_the_ladder_climbs_in_the_order_written_and_stops_at_the_top() -> None:
    ladder = load_config(DEMO_CONFIG).ladders.for_escalation("RZZ", "crisis", None)
    assert ladder is not None
    above = ladder.above("front-line")
    assert above is not None
    assert above.level == "manager"
    assert ladder.above("senior") is None
    assert ladder.top.level == "senior"


def test_no_file_means_no_ladders(tmp_path: Path) -> None:
    assert load_config(configured(tmp_path, None)).ladders.ladders == ()


def _first_level(data: dict[str, Any]) -> dict[str, Any]:
    level: dict[str, Any] = data["ladders"][0]["levels"][0]
    return level


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["ladders"][0].update(receiver="XYZ99"), "ladders.0.receiver"),
        (lambda d: d["ladders"][0].update(pathway="crisis-line"), "ladders.0.pathway"),
        (lambda d: d["ladders"][0].update(locality="east"), "ladders.0.locality"),
        (lambda d: _first_level(d).update(level="director"), "ladders.0.levels.0.level"),
        (lambda d: _first_level(d)["respond_within"].pop("routine"), "respond_within"),
        (lambda d: _first_level(d)["respond_within"].update(urgent="soon"), "respond_within"),
        (lambda d: _first_level(d)["respond_within"].update(urgent="PT0S"), "respond_within"),
        (lambda d: _first_level(d).update(on_missed="page"), "ladders.0.levels.0.on_missed"),
        (lambda d: _first_level(d).pop("contact"), "ladders.0.levels.0.contact"),
        (lambda d: _first_level(d)["contact"].pop("telephone"), "ladders.0.levels.0.contact"),
        (lambda d: d["ladders"][0]["levels"].append(_first_level(d)), "ladders.0.levels"),
        (lambda d: d["ladders"].append(d["ladders"][0]), "two ladders for receiver RZZ"),
    ],
)
def test_a_bad_ladder_stops_the_start_naming_file_and_field(
    tmp_path: Path, change: Any, named: str
) -> None:
    data = demo_ladders()
    change(data)
    message = refusal(configured(tmp_path, data))
    assert "ladders.yaml" in message
    assert named in message


def test_contacts_still_come_from_endpoints_yaml_for_one_release(tmp_path: Path) -> None:
    data = demo_ladders()
    _first_level(data).pop("contact")
    directory = configured(tmp_path, data)
    endpoints = yaml.safe_load((directory / "endpoints.yaml").read_text())
    endpoints["endpoints"][0]["contacts"] = {
        "front-line": {"name": "Old place duty line", "telephone": "01632 960199"}
    }
    (directory / "endpoints.yaml").write_text(yaml.safe_dump(endpoints))
    ladder = load_config(directory).ladders.ladders[0]
    contact = ladder.levels[0].contact
    assert contact is not None
    assert contact.name == "Old place duty line"
