"""The request timeout, which a write stops obeying once its transaction is open.

The timeout is for waiting: for the body, and for a database slot. Once a write's
transaction is open it runs to its end, bounded by the database's own timeouts (lock,
statement, connect: gateway.platform.database), so that the answer always says what
happened: a write cancelled by the request timeout could otherwise commit after its
503 had told the sender it was abandoned (its commit is shielded from cancellation).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import anyio

_current: ContextVar[anyio.CancelScope | None] = ContextVar("request_deadline", default=None)


@contextmanager
def request_deadline(seconds: float) -> Iterator[anyio.CancelScope]:
    """A cancel scope that cancels the request after `seconds`, unless lifted first."""
    with anyio.CancelScope(deadline=anyio.current_time() + seconds) as scope:
        token = _current.set(scope)
        try:
            yield scope
        finally:
            _current.reset(token)


def lift() -> None:
    """From here on the request is not cancelled by its timeout (a no-op outside one)."""
    scope = _current.get()
    if scope is not None and not scope.cancel_called:
        scope.deadline = math.inf
