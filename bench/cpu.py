"""CPU time from /proc: a process's (its threads included), the whole machine's busy
time, and the processes this one started. The benchmarks share two cores with their
load generators and databases, so they tell apart who spent what."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User and system CPU seconds of one process, its threads included (0 once gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command: state, ppid, ...; utime and stime are the 14th and 15th fields.
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_busy() -> float:
    """Busy CPU seconds of every core since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def descendants() -> list[int]:
    """The processes this one started, and any they started."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    waiting = [os.getpid()]
    while waiting:
        kids = children.get(waiting.pop(), [])
        found += kids
        waiting += kids
    return found
