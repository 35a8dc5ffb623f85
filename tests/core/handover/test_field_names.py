"""Every dataset field has a name in words, shared by checklist messages and the summary."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from core.handover.dataset import EscalationSummary, Handover
from core.handover.field_names import FIELD_NAMES, field_name


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("time_sensitivity.respond_by", "respond-by time"),
        ("actions_taken[0].by", "who took an action (item 1)"),
        ("escalation.next_action", "next action"),
        ("patient.name", "person's name"),
        ("nothing.like.it", "nothing.like.it"),
    ],
)
def test_field_paths_in_words(path: str, words: str) -> None:
    assert field_name(path) == words


def model_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted field path of `model`, through nested parts and lists of parts."""
    found = []
    for name, field in model.model_fields.items():
        path = prefix + (field.alias or name)
        found.append(path)
        for part in typing.get_args(field.annotation) or (field.annotation,):
            inner = typing.get_args(part)[0] if typing.get_origin(part) is tuple else part
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found.extend(model_paths(inner, path + "."))
    return found


@pytest.mark.parametrize("model", [Handover, EscalationSummary])
def test_every_dataset_field_has_a_name_in_words(model: type[BaseModel]) -> None:
    paths = model_paths(model)
    assert "escalation.response.from" in paths or model is Handover
    assert "key_risks.level" in paths
    unnamed = [path for path in paths if path not in FIELD_NAMES]
    assert unnamed == []
