"""An exception in the log: its type, its causes' types and its frames, never its text
nor a frame's variables, in both formats and from structlog and the standard library
alike."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from gateway.platform.log_exceptions import summarise_exception

PATIENT = "Alex Example 9434765919"


def _failing(record: str) -> None:
    raise ValueError(f"could not store {record}")


def test_an_exception_becomes_its_type_causes_and_frames_and_nothing_else() -> None:
    try:
        try:
            _failing(PATIENT)
        except ValueError as error:
            raise RuntimeError(PATIENT) from error
    except RuntimeError as error:
        event = summarise_exception(None, "error", {"event": "x", "exc_info": error})
    assert event["error_type"] == "RuntimeError"
    assert event["error_causes"] == "builtins.ValueError"
    assert event["error_at"].startswith(
        "tests.platform.test_log_exceptions:test_an_exception_becomes_its_type_causes_and_frames"
    )
    assert "exc_info" not in event
    assert PATIENT not in repr(event)


def test_exc_info_true_means_the_exception_being_handled() -> None:
    try:
        _failing(PATIENT)
    except ValueError:
        event = summarise_exception(None, "error", {"event": "x", "exc_info": True})
    assert event["error_type"] == "ValueError"
    assert event["error_at"].startswith("tests.platform.test_log_exceptions:_failing:")


def test_without_an_exception_nothing_is_added_and_stacks_are_dropped() -> None:
    event = summarise_exception(None, "info", {"event": "x", "stack_info": True, "exc_info": None})
    assert event == {"event": "x"}


_SCRIPT = textwrap.dedent(
    """
    import logging, sys, warnings
    from gateway.platform.logging import configure_logging, get_logger
    from gateway.platform.log_exceptions import install_process_hooks

    configure_logging(sys.argv[1])
    install_process_hooks()

    def fail(record):
        nhs_number = record  # a local the console renderer used to print
        raise ValueError(f"duplicate key (nhs_number)=({record})")

    try:
        fail(sys.argv[2])
    except ValueError:
        get_logger("gateway.exchange.worker").exception("delivery.record_failed")
    try:
        fail(sys.argv[2])
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI %s", sys.argv[2])
    warnings.warn(f"about {sys.argv[2]}")
    fail(sys.argv[2])
    """
)


@pytest.mark.parametrize("log_format", ["console", "json"])
def test_a_process_logs_each_kind_of_exception_without_its_text(log_format: str) -> None:
    """structlog's log.exception(), a library's record, a warning and an uncaught
    exception: each is one line with the type and frames (the console renderer printed
    tracebacks with every local variable, uvicorn's its messages)."""
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT, log_format, PATIENT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "9434765919" not in output
    assert "Alex" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 4, output
    if log_format == "json":
        events = [json.loads(line) for line in lines]
        assert [e["event"] for e in events] == [
            "delivery.record_failed",
            "Exception in ASGI %s",
            "python.warning",
            "process.uncaught_exception",
        ]
        assert events[0]["error_type"] == "ValueError"
        assert events[0]["error_at"] == "__main__:fail:11 <- __main__:<module>:14"
        assert events[1]["logger"] == "uvicorn.error"
        assert events[3]["error_type"] == "ValueError"
