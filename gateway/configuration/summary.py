"""What a configuration holds, in a line for the log, and the agreements about to expire:
said at every load, reload and `gateway config check`."""

from __future__ import annotations

from datetime import datetime

from consent.agreements import Agreement, england_date
from gateway.configuration.models import GatewayConfig

EXPIRY_WARNING_DAYS = 30


def load_summary(config: GatewayConfig, verb: str) -> str:
    labels = ", ".join(agreement.label for agreement in config.agreements) or "none"
    return (
        f"Configuration {verb}: {len(config.directory.organisations)} organisations, "
        f"{len(config.clients)} clients, {len(config.ladders.ladders)} escalation ladders, "
        f"agreements: {labels}."
    )


def expiring(config: GatewayConfig, now: datetime) -> list[Agreement]:
    today = england_date(now)
    return [a for a in config.agreements if a.expires_within(today, EXPIRY_WARNING_DAYS)]
