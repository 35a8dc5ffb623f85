"""What the gateway knows about a handover or escalation besides the dataset itself, as
the summary page (core.handover.summary_page) and its JSON (core.handover.summary_json)
take it: the gateway's ids and times, what it found on receipt (the checklist's gaps,
overdue on receipt), the ladder position, the sending organisation's configured call-back
number, and the names configuration gives the codes a dataset uses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from core.handover.ladder_position import LadderPosition, TimelineStep
from core.safeguarding.picture import SafeguardingPicture


@dataclass(frozen=True, slots=True)
class Names:
    """Display names from configuration, by code (names, not codes): a code without one
    is shown as it is."""

    organisations: Mapping[str, str] = field(default_factory=dict)  # ODS code -> its name
    services: Mapping[str, str] = field(default_factory=dict)  # receiver.service code -> name
    localities: Mapping[str, str] = field(default_factory=dict)  # locality code -> name


@dataclass(frozen=True, slots=True)
class ConfiguredCallBack:
    """The sending organisation's configured number (organisations.yaml), the call-back
    number when the dataset names none, and whom it reaches."""

    telephone: str
    contact_name: str | None = None


@dataclass(frozen=True, slots=True)
class SummaryContext:
    """What the gateway knows about a dataset besides the dataset itself."""

    communication_id: str | None  # gateway ids, shown small at the bottom
    service_request_id: str | None
    received_at: datetime | None  # when the gateway received it (UTC aware)
    generated_at: datetime  # now, UTC aware: "in 45 minutes" is measured from here
    # Dataset field paths the referral checklist found missing (warnings).
    incomplete_fields: tuple[str, ...] = ()
    # Its respond-by had already passed when the gateway received it (the ServiceRequest's
    # overdue-on-receipt tag): accepted, never refused, and shown late from the start.
    overdue_on_receipt: bool = False
    # Where an escalation stands on its receiver's ladder, when the gateway knows.
    ladder: LadderPosition | None = None
    # Every step of the escalation so far, first to last.
    timeline: tuple[TimelineStep, ...] = ()
    # The sending organisation's configured number, for when the dataset gives none.
    sender_call_back: ConfiguredCallBack | None = None
    names: Names = field(default_factory=Names)
    # An agreement withholds free text from the reader: what is shown is partial.
    withheld: bool = False
    # The person's open safeguarding actions and restrictions in force, as the reader
    # may see them; None when not looked up.
    safeguarding: SafeguardingPicture | None = None

    def __post_init__(self) -> None:
        moments = [self.received_at, self.generated_at]
        if self.ladder is not None:
            moments.append(self.ladder.respond_by)
        for step in self.timeline:
            moments += [step.received_at, step.respond_by, step.answered_at]
        if self.safeguarding is not None:
            moments += [action.due for action in self.safeguarding.actions]
            for restriction in self.safeguarding.restrictions:
                moments += [restriction.until, restriction.review_due]
        for moment in moments:
            if moment is not None and moment.utcoffset() is None:
                raise ValueError("summary times must carry their offset")
