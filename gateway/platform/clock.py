"""The shell's one wall clock and one id source.

The functional core (mappings, consent) never reads the time or makes an id: the shell
reads them here and passes them in, so a test passes a fixed clock or id source instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
IdSource = Callable[[], str]


def utc_now() -> datetime:
    """The current moment, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new random identifier (a UUID4 as text), for resources, bundles and requests."""
    return str(uuid.uuid4())
