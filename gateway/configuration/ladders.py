"""ladders.yaml: each receiver's agreed escalation ladder, with its deadlines.

    ladders:
      - receiver: RZZ          # the receiving organisation's ODS code
        pathway: crisis        # a pathway from pathways.yaml, or "*"
        locality: "*"          # a locality, or "*"; the most specific ladder wins
        levels:
          - level: front-line
            contact: {name: Crisis resolution team duty line, telephone: "01632 960100"}
            respond_within: {emergency: PT15M, very-urgent: PT1H, urgent: PT4H, routine: P2D}
            on_missed: step-up  # or: notify

Levels are climbed in the order written. Durations are ISO 8601. Every priority has a
time at every level: a ladder that said nothing for "routine" would let a routine
escalation wait for ever, silently. A missed step at the top of the ladder notifies
(there is nowhere left to step up to), whatever `on_missed` says.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.handover.dataset import EscalationLevel, Pathway, Priority
from gateway.configuration.endpoints import Contact
from gateway.configuration.fields import OdsCode

ANY = "*"
# The longest a level may be given: beyond this a "deadline" no longer protects anyone.
LONGEST_RESPONSE = timedelta(days=14)
PRIORITIES: tuple[Priority, ...] = ("emergency", "very-urgent", "urgent", "routine")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LadderLevel(_Strict):
    level: EscalationLevel
    # Whom this step reaches. Absent: the contact endpoints.yaml gave for the level (the
    # old place, read for one release with a warning); the loader fills it in or refuses.
    contact: Contact | None = None
    respond_within: dict[Priority, timedelta]
    on_missed: Literal["step-up", "notify"] = "step-up"

    @field_validator("respond_within")
    @classmethod
    def _every_priority(cls, value: dict[Priority, timedelta]) -> dict[Priority, timedelta]:
        missing = [priority for priority in PRIORITIES if priority not in value]
        if missing:
            raise ValueError(f"give a time for every priority (missing: {', '.join(missing)})")
        for priority, within in value.items():
            if not timedelta(0) < within <= LONGEST_RESPONSE:
                raise ValueError(f"{priority}: must be more than nothing and at most 14 days")
        return value

    def within(self, priority: Priority | None) -> timedelta:
        """The time this level has to respond; a dataset without a priority is held to
        the routine time (the checklist decides whether it may lack one)."""
        return self.respond_within[priority or "routine"]


class Ladder(_Strict):
    receiver: OdsCode
    pathway: Pathway | Literal["*"] = "*"
    locality: str = "*"
    levels: tuple[LadderLevel, ...] = Field(min_length=1)

    @field_validator("levels")
    @classmethod
    def _each_level_once(cls, value: tuple[LadderLevel, ...]) -> tuple[LadderLevel, ...]:
        names = [level.level for level in value]
        if len(names) != len(set(names)):
            raise ValueError("each level may appear once on a ladder")
        return value

    @property
    def specificity(self) -> int:
        """How closely it is aimed: a pathway counts more than a locality."""
        return (2 if self.pathway != ANY else 0) + (1 if self.locality != ANY else 0)

    def level(self, name: str) -> LadderLevel | None:
        return next((level for level in self.levels if level.level == name), None)

    def above(self, name: str) -> LadderLevel | None:
        """The level a missed step at `name` steps up to; None at the top (or for a
        level this ladder does not have)."""
        names = [level.level for level in self.levels]
        if name not in names:
            return None
        position = names.index(name)
        return self.levels[position + 1] if position + 1 < len(self.levels) else None

    @property
    def top(self) -> LadderLevel:
        return self.levels[-1]


class Ladders(_Strict):
    ladders: tuple[Ladder, ...] = ()

    @field_validator("ladders")
    @classmethod
    def _one_per_scope(cls, value: tuple[Ladder, ...]) -> tuple[Ladder, ...]:
        scopes = [(ladder.receiver, ladder.pathway, ladder.locality) for ladder in value]
        for scope in scopes:
            if scopes.count(scope) > 1:
                receiver, pathway, locality = scope
                raise ValueError(
                    f"two ladders for receiver {receiver}, pathway {pathway}, "
                    f"locality {locality}: one would silently win"
                )
        return value

    def for_escalation(self, receiver: str, pathway: str, locality: str | None) -> Ladder | None:
        """The most specific ladder for an escalation to `receiver` on `pathway` in
        `locality`, or None when the receiver has agreed none."""
        matching = [
            ladder
            for ladder in self.ladders
            if ladder.receiver == receiver
            and ladder.pathway in (ANY, pathway)
            and ladder.locality in (ANY, locality)
        ]
        return max(matching, key=lambda ladder: ladder.specificity, default=None)
