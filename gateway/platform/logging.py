"""structlog, configured once, with redaction as the last word before output.

Redaction is by allow-list: only keys known to carry operational facts are logged as
they are; any other key's value is replaced. Even allowed values are scrubbed of
anything shaped like an NHS number, so a path or message cannot leak one either.

An exception is logged as its type and where it arose (module:function:line frames),
never its message or a frame's variables: a driver error quotes the statement's
parameters, and a traceback with locals shows whole records (see gateway.platform.log_exceptions).
The standard library's records (uvicorn, asyncio, alembic) go through the same chain.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

import structlog

from gateway.platform.log_exceptions import EXCEPTION_KEYS, summarise_exception

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
        # An exception's type, its causes' types and its frames (module:function:line).
        "error_causes",
        "error_at",
        "where",
        "sqlstate",
        "count",
        "total",
        "database",
        "revision",
        "reload_request",
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
        # The deadline watcher: which source, what it did, to which kind of work.
        "source",
        "action",
        "kind",
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
        if key in EXCEPTION_KEYS:
            # Dropped, not blanked: a renderer given any true value as exc_info formats
            # the exception being handled itself (with its message, and locals in dev).
            del event_dict[key]
        elif key not in SAFE_KEYS:
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
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=_no_traceback
        )
    )
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            summarise_exception,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached, so structlog.testing.capture_logs sees every logger in the tests.
        cache_logger_on_first_use=False,
    )
    # Libraries (uvicorn, asyncio, alembic) log through the standard library: keep them
    # quiet, pass what they say through redaction, and never let their access logs print
    # query strings, which can carry identifiers.
    root = logging.getLogger()
    if not any(isinstance(handler, _LibraryRecords) for handler in root.handlers):
        root.addHandler(_LibraryRecords())
    root.setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").disabled = True


class _LibraryRecords(logging.Handler):
    """A standard-library record, logged through structlog's chain: the first line of
    its message template (arguments are never rendered: a library formats data and
    exceptions into them) and the exception's type and frames."""

    def emit(self, record: logging.LogRecord) -> None:
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        lines = template.strip().splitlines()
        structlog.get_logger().log(
            record.levelno,
            lines[0] if lines else "",
            logger=record.name,
            exc_info=record.exc_info or None,
        )


def _no_traceback(*_: Any) -> None:
    """The console renderer's exception formatter: exceptions reach it summarised by
    summarise_exception, so there is nothing it may print."""


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
