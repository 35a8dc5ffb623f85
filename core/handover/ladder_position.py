"""Where an escalation stands on its receiver's agreed ladder, as the summary shows it.

A value the shell works out (gateway.handovers, from ladders.yaml and the stored steps)
and the summary page and its JSON render: "manager step; if no response by 14:25, steps
up to the Trust on-call manager, 01632 960102". Names, not codes: every label here is
already the display name from configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LadderContact:
    name: str
    telephone: str | None = None


@dataclass(frozen=True, slots=True)
class LadderPosition:
    level: str  # the current step's level, its display name ("Manager")
    contact: LadderContact | None  # whom this step reaches
    # When this step must be answered by (UTC aware); None when no deadline applies.
    respond_by: datetime | None
    answered: bool  # a response has stopped this step's clock
    missed: bool  # its deadline passed with no response
    # What happens if it is not answered in time: the next level and its contact, or
    # None at the top of the ladder (the ladder is then exhausted: sender and receiver
    # are told).
    next_level: str | None
    next_contact: LadderContact | None


@dataclass(frozen=True, slots=True)
class TimelineStep:
    """One step of an escalation, as the summary page lists them in order."""

    step: int
    level: str  # its display name ("Manager")
    received_at: datetime  # when the gateway received (or took) it, UTC aware
    respond_by: datetime | None  # its deadline
    state: str  # open | answered | missed | superseded | unwatched
    answered_at: datetime | None = None
    answered_by: str | None = None  # the responding organisation's name
    by_gateway: bool = False  # a step-up the gateway took on the sender's behalf
