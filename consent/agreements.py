"""Data-sharing agreements (DSAs): which one, if any, covers a sharing.

An agreement covers a sharing when both organisations are parties to it, it names the
purpose and the data category, its status is active and today (in England) lies within
its validity, both ends inclusive. Agreements are symmetric: parties share with each
other, in either direction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from consent.model import DataCategory, Reason, Rule
from consent.purposes import AgreementPurpose

AgreementStatus = Literal["draft", "active", "suspended", "terminated"]

# Agreements are dated as signed, in England.
_ENGLAND = ZoneInfo("Europe/London")


@dataclass(frozen=True, slots=True)
class Agreement:
    id: str
    version: str
    parties: frozenset[str]  # ODS codes
    purposes: frozenset[AgreementPurpose]
    categories: frozenset[DataCategory]
    valid_from: date
    valid_to: date | None  # None: open-ended (until terminated)
    status: AgreementStatus
    # The parties agreed to share these data without free text.
    withhold_free_text: bool = False

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"

    def in_force_rule(self, today: date) -> Rule | None:
        """None when in force today; otherwise the rule that says why not."""
        if self.status == "suspended":
            return Rule.AGREEMENT_SUSPENDED
        if self.status != "active":
            return Rule.AGREEMENT_NOT_IN_FORCE
        if today < self.valid_from:
            return Rule.AGREEMENT_NOT_YET_VALID
        if self.valid_to is not None and today > self.valid_to:
            return Rule.AGREEMENT_EXPIRED
        return None

    def expires_within(self, today: date, days: int) -> bool:
        return (
            self.in_force_rule(today) is None
            and self.valid_to is not None
            and (self.valid_to - today).days <= days
        )


def england_date(moment: datetime) -> date:
    return moment.astimezone(_ENGLAND).date()


@dataclass(frozen=True, slots=True)
class Cover:
    """What the agreements say about one sharing: the agreement it rests on, or why none."""

    agreement: Agreement | None
    reason: Reason


def cover(
    agreements: Iterable[Agreement],
    origin: str,
    recipient: str,
    purpose: AgreementPurpose,
    category: DataCategory,
    now: datetime,
) -> Cover:
    """The agreement a sharing rests on; without one, the most telling reason why not.

    Of several agreements that would cover it, the first by id (deterministic). Without
    one, the reason comes from the agreement between the two that came closest: one
    for the purpose and category that is not in force, then one for the purpose only.
    """
    today = england_date(now)
    between = sorted(
        (a for a in agreements if origin in a.parties and recipient in a.parties),
        key=lambda a: (a.id, a.version),
    )
    if not between:
        return Cover(None, Reason(Rule.NO_AGREEMENT))
    for agreement in between:
        if (
            purpose in agreement.purposes
            and category in agreement.categories
            and agreement.in_force_rule(today) is None
        ):
            return Cover(agreement, Reason(Rule.AGREEMENT_PERMITS, agreement.label))
    for agreement in between:
        if purpose in agreement.purposes and category in agreement.categories:
            rule = agreement.in_force_rule(today)
            assert rule is not None
            return Cover(None, Reason(rule, agreement.label))
    for agreement in between:
        if purpose in agreement.purposes:
            return Cover(None, Reason(Rule.AGREEMENT_CATEGORY_NOT_COVERED, agreement.label))
    return Cover(None, Reason(Rule.AGREEMENT_PURPOSE_NOT_COVERED, between[0].label))


def shared_with(
    agreements: Iterable[Agreement], recipient: str, purpose: AgreementPurpose, now: datetime
) -> Mapping[str, frozenset[DataCategory]]:
    """For each originating organisation, the data categories the agreements in force let
    it share with `recipient` for `purpose`: what a search by `recipient` may return,
    before consent is considered. The recipient's own data is not listed (it needs no
    agreement)."""
    today = england_date(now)
    shared: dict[str, set[DataCategory]] = {}
    for agreement in agreements:
        if (
            recipient not in agreement.parties
            or purpose not in agreement.purposes
            or agreement.in_force_rule(today) is not None
        ):
            continue
        for origin in agreement.parties - {recipient}:
            shared.setdefault(origin, set()).update(agreement.categories)
    return {origin: frozenset(categories) for origin, categories in sorted(shared.items())}
