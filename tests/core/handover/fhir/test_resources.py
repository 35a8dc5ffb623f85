"""to_fhir: the four parts under the ids chosen beforehand, in the order they are written,
and a safeguarding concern tagged as such on every one of them."""

from __future__ import annotations

from typing import get_args

import pytest

from core.codes import sharing as sharing_codes
from core.handover.dataset import Pathway
from tests.core.handover.fhir.support import escalation, handover, resources

SAFEGUARDING = sharing_codes.DATA_CATEGORIES["safeguarding"].coding()


@pytest.mark.parametrize(
    "made", [handover(pathway="safeguarding"), escalation({"pathway": "safeguarding"})]
)
def test_a_safeguarding_concern_tags_every_resource(made: object) -> None:
    built = resources(made)  # type: ignore[arg-type]
    for resource in built.all():
        assert SAFEGUARDING in resource.get("meta", {}).get("tag", []), resource["resourceType"]


@pytest.mark.parametrize("pathway", [p for p in get_args(Pathway) if p != "safeguarding"])
def test_other_pathways_carry_no_data_category_tag(pathway: str) -> None:
    for resource in resources(handover(pathway=pathway)).all():
        tags = resource.get("meta", {}).get("tag", [])
        assert all(tag["system"] != sharing_codes.DATA_CATEGORY_SYSTEM for tag in tags)


def test_the_resources_come_in_write_order_under_their_ids() -> None:
    built = resources(handover())
    assert [(r["resourceType"], r["id"]) for r in built.all()] == [
        ("ServiceRequest", "sr-t"),
        ("Flag", "flag-t-1"),
        ("Flag", "flag-t-2"),
        ("Communication", "comm-t"),
        ("Provenance", "prov-t"),
    ]
