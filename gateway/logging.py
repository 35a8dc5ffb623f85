"""structlog, configured once, with redaction as the last word before output.

Redaction is by allow-list: only keys known to carry operational facts are logged as
they are; any other key's value is replaced. Even allowed values are scrubbed of
anything shaped like an NHS number, so a path or message cannot leak one either.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

import structlog

REDACTED = "[redacted]"

SAFE_KEYS = frozenset(
    {
        "event",
        "level",
        "timestamp",
        "logger",
        "request_id",
        "correlation_id",
        "method",
        "path",
        "route",
        "status",
        "duration_ms",
        "resource_type",
        "resource_id",
        "version_id",
        "interaction",
        "issue_codes",
        "error_type",
        "where",
        "sqlstate",
        "count",
        "total",
        "database",
        "revision",
        "host",
        "port",
        "env",
        "config_dir",
        "organisations",
        "file",
        "field",
        "created",
        "updated",
        "unchanged",
        # Who called: system identities, never people or patients.
        "client_id",
        "ods_code",
        "reason",
        "clients",
        # Configuration loads: counts, agreement ids and dates, and what a file got wrong
        # (file and field names; configuration never holds patient data).
        "agreements",
        "agreement",
        "valid_to",
        "problem",
        # The access log's operation: sizes and counts, never events.
        "tree_size",
        "sequenced",
        "events",
        "checkpoints",
        "position",
    }
)

# Ten digits, optionally spaced 3-3-4 as NHS numbers are written.
_NHS_NUMBER_LIKE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
# A canonical UUID is never an NHS number, though a segment may hold ten digits in a row;
# leaving UUIDs whole keeps request and correlation ids searchable in the logs.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def scrub(value: str) -> str:
    return _NHS_NUMBER_LIKE.sub("[nhs-number]", value)


def redact(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: keep allow-listed keys (scrubbed), blank everything else."""
    for key in list(event_dict):
        value = event_dict[key]
        if key not in SAFE_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            event_dict[key] = value if _UUID.fullmatch(value) else scrub(value)
        elif not isinstance(value, int | float | bool | type(None)):
            event_dict[key] = scrub(str(value))
    return event_dict


def configure_logging(log_format: Literal["console", "json"], level: str = "info") -> None:
    """Configure structlog (and route the standard library's logging through it)."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached, so structlog.testing.capture_logs sees every logger in the tests.
        cache_logger_on_first_use=False,
    )
    # Libraries (uvicorn, alembic) log through the standard library; keep them quiet
    # and never let their access logs print query strings, which can carry identifiers.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
