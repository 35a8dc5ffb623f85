"""Exceptions in the logs as their type and where they arose, never their text.

An exception's message may quote data: a database driver's error carries the statement's
parameters (NHS numbers, names, free text), a validation error the value it refused. A
traceback rendered with its frames' local variables shows whole records. So a logged
exception keeps its type, the types of its causes and its frames as module:function:line,
in every format and at every level; nothing else of it is written.

The same holds for what the interpreter itself would print to stderr: an uncaught
exception (in the main thread or another), an unraisable one (a failing __del__), and a
warning (whose text names values). `install_process_hooks` routes them to the log, as
the same summary, in the processes the `gateway` command runs.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, TextIO

import structlog

# The event-dict keys through which structlog and the standard library hand over an
# exception or a stack; summarised here, then dropped before anything renders them.
EXCEPTION_KEYS = frozenset({"exc_info", "exception", "stack", "stack_info"})

# A deep stack (a recursion) is cut to its innermost frames: where it failed.
MAX_FRAMES = 30

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def summarise_exception(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: replace exc_info (as log.exception() and the standard
    library give it) with error_type, error_causes and error_at; drop stacks."""
    exc_info = event_dict.get("exc_info")
    for key in EXCEPTION_KEYS:
        event_dict.pop(key, None)
    error = _exception_of(exc_info)
    if error is not None:
        event_dict.setdefault("error_type", type(error).__name__)
        causes = _causes(error)
        if causes:
            event_dict["error_causes"] = " <- ".join(causes)
        event_dict["error_at"] = location(error.__traceback__)
    return event_dict


def location(trace: TracebackType | None) -> str:
    """The frames of a traceback, innermost first, as module:function:line."""
    frames: list[str] = []
    while trace is not None:
        code = trace.tb_frame.f_code
        module = trace.tb_frame.f_globals.get("__name__", "?")
        frames.append(f"{module}:{code.co_name}:{trace.tb_lineno}")
        trace = trace.tb_next
    innermost = frames[-MAX_FRAMES:]
    return " <- ".join(reversed(innermost))


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info:
        return sys.exc_info()[1]
    return None


def _causes(error: BaseException) -> list[str]:
    """The types of the exceptions behind this one (a driver's error behind
    SQLAlchemy's, say): they tell a lost connection from a constraint."""
    causes: list[str] = []
    seen = {id(error)}
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen and len(causes) < 5:
        seen.add(id(cause))
        causes.append(f"{type(cause).__module__}.{type(cause).__name__}")
        cause = cause.__cause__ or cause.__context__
    return causes


def install_process_hooks() -> None:
    """Send the interpreter's own reports (uncaught and unraisable exceptions, warnings)
    through the log instead of stderr. For the `gateway` command's processes only: a
    test runner keeps its own hooks."""
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
    sys.unraisablehook = _unraisable
    warnings.showwarning = _warning


_log = structlog.get_logger("gateway.process")


def _uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    _log.critical("process.uncaught_exception", exc_info=(kind, error, trace))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log.error("thread.uncaught_exception", exc_info=args.exc_value)


def _unraisable(unraisable: Any) -> None:
    if unraisable.exc_value is not None:
        _log.warning("process.unraisable_exception", exc_info=unraisable.exc_value)


def _warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    # The category and where, not the text: a warning's message may name a value.
    _log.warning("python.warning", error_type=category.__name__, where=f"{filename}:{lineno}")
