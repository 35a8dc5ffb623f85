"""The summary's JSON besides the dataset: the number to call back and where it came
from, and the ladder position when the gateway knows it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.handover.dataset_input import parse_dataset
from core.handover.ladder_position import LadderContact, LadderPosition
from core.handover.summary_json import summary_json
from core.handover.summary_page import ConfiguredCallBack, SummaryContext
from tests.paths import EXAMPLES

NOW = datetime(2026, 11, 21, 14, 15, tzinfo=UTC)
MANAGER = LadderPosition(
    level="Manager",
    contact=LadderContact("Crisis team duty manager", "01632 960101"),
    respond_by=datetime(2026, 11, 21, 14, 25, tzinfo=UTC),
    answered=False,
    missed=False,
    next_level="Senior",
    next_contact=LadderContact("Trust on-call manager", "01632 960102"),
)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def context(**fields: Any) -> SummaryContext:
    return SummaryContext("comm-1", "sr-1", None, NOW, **fields)


def test_the_ladder_position_is_carried_when_known() -> None:
    found = summary_json(parse_dataset(example("escalation-manager")), context(ladder=MANAGER))
    assert found["ladder"] == {
        "level": "Manager",
        "contact": {"name": "Crisis team duty manager", "telephone": "01632 960101"},
        "respond_by": "2026-11-21T14:25:00Z",
        "answered": False,
        "missed": False,
        "next_level": "Senior",
        "next_contact": {"name": "Trust on-call manager", "telephone": "01632 960102"},
    }
    top = LadderPosition(
        "Senior", LadderContact("Trust on-call manager"), None, True, False, None, None
    )
    assert summary_json(parse_dataset(example("escalation-manager")), context(ladder=top))[
        "ladder"
    ] == {
        "level": "Senior",
        "contact": {"name": "Trust on-call manager"},
        "answered": True,
        "missed": False,
    }
    assert "ladder" not in summary_json(parse_dataset(example("escalation-manager")), context())


def test_the_call_back_number_is_the_senders_else_the_configured_one() -> None:
    handover = parse_dataset(example("handover-crisis"))
    configured = ConfiguredCallBack("01632 960200", "Community Recovery Team North duty worker")
    assert summary_json(handover, context(sender_call_back=configured))["call_back"] == {
        "telephone": "01632 960001",
        "contact": "Sam Carter, Support worker, Community Recovery Team North",
        "source": "dataset",
    }
    escalation = parse_dataset(example("escalation-manager"))  # no sender.contact
    assert summary_json(escalation, context(sender_call_back=configured))["call_back"] == {
        "telephone": "01632 960200",
        "contact": "Community Recovery Team North duty worker",
        "source": "configuration",
    }
    bare = ConfiguredCallBack("01632 960200")
    assert summary_json(escalation, context(sender_call_back=bare))["call_back"] == {
        "telephone": "01632 960200",
        "source": "configuration",
    }
    assert summary_json(escalation, context()) == {}
