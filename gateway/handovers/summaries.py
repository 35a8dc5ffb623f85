"""The summary page's context: what the gateway knows about a served dataset besides the
dataset itself, from the stored FHIR (the checklist's gaps, overdue on receipt) and the
configuration (the names of organisations, services and localities; the sending
organisation's call-back number)."""

from __future__ import annotations

from datetime import datetime

from core.handover.ladder_position import TimelineStep
from core.handover.summary_page import ConfiguredCallBack, Names, SummaryContext
from core.safeguarding.picture import SafeguardingPicture
from gateway.configuration.models import GatewayConfig
from gateway.handovers.ladder import level_name
from gateway.handovers.ladder_store import Step
from gateway.handovers.service import Served


def summary_context(
    served: Served,
    communication_id: str,
    service_request_id: str,
    config: GatewayConfig,
    now: datetime,
    steps: list[Step] | None = None,
    *,
    safeguarding: SafeguardingPicture | None = None,
) -> SummaryContext:
    """`steps`: every step of the escalation, first to last, for its timeline;
    `safeguarding`: the person's picture as the reader may see it."""
    submission = served.submission
    sender = config.directory.organisation(served.dataset.sender.ods)
    call_back = (
        ConfiguredCallBack(sender.telephone, sender.contact_name)
        if sender is not None and sender.telephone is not None
        else None
    )
    names = Names(
        organisations={o.ods: o.name for o in config.directory.organisations},
        services=config.pathways.service_names,
        localities=config.pathways.locality_names,
    )
    return SummaryContext(
        communication_id=communication_id,
        service_request_id=service_request_id,
        received_at=submission.received_at if submission else None,
        generated_at=now,
        # As the stored ServiceRequest carries them (what a Trust pulling sees too).
        incomplete_fields=served.gaps,
        overdue_on_receipt=served.overdue_on_receipt,
        # Where the step stands on its receiver's ladder (gateway.handovers.ladder).
        ladder=served.ladder,
        timeline=_timeline(steps or [], names),
        sender_call_back=call_back,
        names=names,
        withheld=served.withheld,
        safeguarding=safeguarding,
    )


def _timeline(steps: list[Step], names: Names) -> tuple[TimelineStep, ...]:
    """The steps as the page lists them. A step that follows a missed one was taken by
    the gateway (a sender's own next step supersedes the one before instead)."""
    shown = []
    for before, step in zip([None, *steps], steps, strict=False):
        answered_by = names.organisations.get(step.answered_by or "", step.answered_by)
        shown.append(
            TimelineStep(
                step=step.step,
                level=level_name(step.level),
                received_at=step.received_at,
                respond_by=step.deadline,
                state=step.state,
                answered_at=step.answered_at,
                answered_by=answered_by,
                by_gateway=before is not None and before.state == "missed",
            )
        )
    return tuple(shown)
