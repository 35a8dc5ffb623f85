"""The long-running processes' heap: collected once and frozen after start-up.

Everything built by start-up (imported modules, the FHIR schema, configuration, keys) lives
as long as the process. Frozen, a full collection no longer walks it (measured: ~70 ms
pauses, which set search p99s, before; see bench/README.md). Only `gateway serve` and
`gateway worker` do this: a process that builds many apps (the test suite) would pay a full
collection at every start.
"""

from __future__ import annotations

import gc


def freeze_long_lived_heap() -> None:
    gc.collect()
    gc.freeze()


def release_long_lived_heap() -> None:
    gc.unfreeze()
