"""Group commit: concurrent reads' events share commits, none is acknowledged before its
commit, and a failed or interrupted commit fails every request that was in it."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from core.access_log.event import AuditFacts
from gateway.access_log.group_commit import GroupCommit
from gateway.platform.errors import AuditUnavailable
from tests.access_log.events import facts


class Recorder:
    def __init__(self, *, fail_first: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail_first = fail_first

    async def commit(self, events: Sequence[AuditFacts]) -> None:
        await anyio.sleep(0.01)  # a commit takes a while: others queue meanwhile
        if self.fail_first and not self.batches:
            self.batches.append([])
            raise AuditUnavailable()
        self.batches.append([event.event_id for event in events])


def test_concurrent_appends_share_commits_and_each_event_is_committed_once() -> None:
    recorder = Recorder()
    writer = GroupCommit(recorder.commit)
    events = [facts(n) for n in range(20)]
    finished: list[str] = []

    async def one(event: AuditFacts) -> None:
        await writer.append([event])
        # Acknowledged only once its own commit is done.
        assert any(event.event_id in batch for batch in recorder.batches)
        finished.append(event.event_id)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for event in events:
                group.start_soon(one, event)

    anyio.run(main)
    committed = [event_id for batch in recorder.batches for event_id in batch]
    assert sorted(committed) == sorted(event.event_id for event in events)
    assert len(recorder.batches) < len(events)
    assert sorted(finished) == sorted(committed)


def test_a_failed_commit_fails_everyone_in_it_and_the_next_one_succeeds() -> None:
    recorder = Recorder(fail_first=True)
    writer = GroupCommit(recorder.commit)
    outcomes: list[str] = []

    async def one(n: int) -> None:
        try:
            await writer.append([facts(n)])
            outcomes.append("committed")
        except AuditUnavailable:
            outcomes.append("refused")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for n in range(5):
                group.start_soon(one, n)
        await one(99)

    anyio.run(main)
    assert outcomes.count("refused") >= 1
    assert outcomes[-1] == "committed"
    assert outcomes.count("committed") == sum(len(batch) for batch in recorder.batches)


def test_an_interrupted_commit_acknowledges_no_one_in_it() -> None:
    batches: list[int] = []

    async def slow(events: Sequence[AuditFacts]) -> None:
        batches.append(len(events))
        await anyio.sleep(10)

    writer = GroupCommit(slow)
    results: list[str] = []

    async def leader() -> None:
        with anyio.move_on_after(0.1):  # e.g. the server stopping mid-commit
            await writer.append([facts(1)])
        results.append("leader interrupted")

    async def follower() -> None:
        try:
            await writer.append([facts(2)])
            results.append("follower committed")
        except AuditUnavailable:
            results.append("follower refused")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(leader)
            group.start_soon(follower)

    anyio.run(main)
    assert batches == [2]  # both were in the one commit that never finished
    assert sorted(results) == ["follower refused", "leader interrupted"]
