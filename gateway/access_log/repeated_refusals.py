"""Identical refusals of anonymous requests, recorded as one AuditEvent per source address
and window that carries their count, so that a flood cannot bloat the access log and
nothing goes unrecorded.

Anonymous: no client was identified (no valid token, no assertion naming a registered
client). Identical: the same address, interaction, outcome, rule and description; what
each asked for (a path's resource, a search) is not compared and not itemised. The first
of them in a window (of `refusal_window_seconds`, aligned to the clock, so a minute by
default) is written as usual, before its answer is sent; the rest are counted, and once
the window has ended one event records how many there were (the repeats entity) and
when the first and last happened (AuditEvent.period). A process that stops writes what
it holds; one that is killed loses the counts of its current windows, never a first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from core.access_log.event import AuditFacts, AuditOutcome
from gateway.platform.clock import IdSource, new_id

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class _Window:
    first: AuditFacts
    end: datetime
    repeats: int = 0
    first_repeat: datetime | None = None
    last_repeat: datetime | None = None


@dataclass(slots=True)
class RepeatedRefusals:
    window_seconds: int
    new_id: IdSource = field(default=new_id)
    _windows: dict[tuple[int, AuditFacts], _Window] = field(default_factory=dict)
    _unwritten: list[AuditFacts] = field(default_factory=list)

    def first_of_its_kind(self, event: AuditFacts) -> bool:
        """True if `event` is to be written now: it is not an anonymous refusal, or the
        first like it in its window. Otherwise it is counted, to be written by `due`."""
        if not _anonymous_refusal(event):
            return True
        moment = int(event.recorded.timestamp()) // self.window_seconds
        key = (moment, _likeness(event))
        window = self._windows.get(key)
        if window is None:
            end = datetime.fromtimestamp((moment + 1) * self.window_seconds, UTC)
            self._windows[key] = _Window(event, end)
            return True
        window.repeats += 1
        window.first_repeat = window.first_repeat or event.recorded
        window.last_repeat = event.recorded
        return False

    def due(self, now: datetime) -> list[AuditFacts]:
        """The counts of every window that has ended by `now`, as events, and any handed
        back by `keep`; forgotten here, so the caller writes them or hands them back."""
        ended = [key for key, window in self._windows.items() if window.end <= now]
        return self._take([self._windows.pop(key) for key in ended])

    def everything(self) -> list[AuditFacts]:
        """Every count held, ended or not (the process is stopping)."""
        windows, self._windows = self._windows, {}
        return self._take(list(windows.values()))

    def keep(self, events: Sequence[AuditFacts]) -> None:
        """Counts that could not be written, held to be written with the next ones."""
        self._unwritten.extend(events)

    def _take(self, windows: list[_Window]) -> list[AuditFacts]:
        events, self._unwritten = self._unwritten, []
        return events + [event for window in windows if (event := self._counted(window))]

    def _counted(self, window: _Window) -> AuditFacts | None:
        if window.first_repeat is None or window.last_repeat is None:
            return None  # the first was alone in its window: already written
        return replace(
            window.first,
            event_id=self.new_id(),
            recorded=window.last_repeat,
            request_id=None,
            correlation_id=None,
            data=(),
            query=None,
            occurrences=window.repeats,
            period=(window.first_repeat, window.last_repeat),
        )


def _anonymous_refusal(event: AuditFacts) -> bool:
    client = event.client
    return (
        event.outcome == AuditOutcome.MINOR_FAILURE
        and client is not None
        and client.client_id is None
    )


def _likeness(event: AuditFacts) -> AuditFacts:
    """What identical refusals share: the event without its ids, time and named data."""
    return replace(
        event,
        event_id="x",
        recorded=_EPOCH,
        request_id=None,
        correlation_id=None,
        data=(),
        query=None,
    )
