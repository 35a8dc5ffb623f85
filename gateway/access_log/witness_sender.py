"""Sending the log's newest checkpoint to each configured witness.

The newest checkpoint is always read from the database, so a witness that was down
loses nothing: the next round sends whatever is newest then, with a consistency proof
from the size the witness holds. What a witness holds is learnt from it (an HTTP
witness's 409 names its size, as C2SP tlog-witness does; a file witness's last line)
and remembered per process. Before appending to a file witness the sender checks the
proof itself, as a witness would: a log that no longer extends what a witness holds is
an alarm, never something to paper over by appending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import anyio.to_thread
import httpx

from gateway.access_log.checkpoint import SignedCheckpoint
from gateway.access_log.merkle import verify_consistency
from gateway.access_log.witness_files import WitnessFileError, append_to_file, newest_in_file
from gateway.access_log.witness_protocol import AddCheckpoint
from gateway.configuration.audit_log import FileWitness, HttpWitness, Witness

# The consistency proof from size `old` to size `new`, from the stored tree.
ProofSource = Callable[[int, int], Awaitable[list[bytes]]]

TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class WitnessResult:
    witness: str
    # The size the witness is now known to hold, if known.
    held_size: int | None
    # None when the witness holds the newest checkpoint; else why not (no patient data).
    failure: str | None = None


class WitnessUnreachable(Exception):
    """A witness that did not answer, or answered something unexpected."""


class LogDoesNotExtend(Exception):
    """The log's newest checkpoint does not extend what a witness holds: a rollback."""


class WitnessSender:
    def __init__(
        self,
        witnesses: tuple[Witness, ...],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._witnesses = witnesses
        self._transport = transport
        self._held: dict[str, int] = {}

    async def push(self, newest: SignedCheckpoint, proof: ProofSource) -> list[WitnessResult]:
        """Bring every witness up to `newest`; never raises for a witness's failure."""
        if not self._witnesses:
            return []
        async with httpx.AsyncClient(
            transport=self._transport, timeout=TIMEOUT_SECONDS, follow_redirects=False
        ) as http:
            return list(
                await asyncio.gather(
                    *(self._push_one(w, newest, proof, http) for w in self._witnesses)
                )
            )

    async def _push_one(
        self,
        witness: Witness,
        newest: SignedCheckpoint,
        proof: ProofSource,
        http: httpx.AsyncClient,
    ) -> WitnessResult:
        size = newest.checkpoint.tree_size
        if self._held.get(witness.name) == size:
            return WitnessResult(witness.name, size)
        try:
            if isinstance(witness, FileWitness):
                await self._to_file(witness, newest, proof)
            else:
                await self._to_http(witness, newest, proof, http)
        except LogDoesNotExtend as error:
            return WitnessResult(witness.name, self._held.get(witness.name), str(error))
        except (WitnessUnreachable, WitnessFileError, OSError, httpx.HTTPError) as error:
            reason = str(error) if isinstance(error, WitnessUnreachable) else type(error).__name__
            return WitnessResult(witness.name, self._held.get(witness.name), reason)
        self._held[witness.name] = size
        return WitnessResult(witness.name, size)

    async def _to_file(
        self, witness: FileWitness, newest: SignedCheckpoint, proof: ProofSource
    ) -> None:
        held = await anyio.to_thread.run_sync(newest_in_file, witness.path)
        if held is not None:
            old = held.checkpoint
            new = newest.checkpoint
            if old.tree_size == new.tree_size and old.root_hash == new.root_hash:
                return
            if old.tree_size >= new.tree_size or not verify_consistency(
                old.tree_size,
                new.tree_size,
                old.root_hash,
                new.root_hash,
                await proof(old.tree_size, new.tree_size),
            ):
                raise LogDoesNotExtend(
                    f"the log's checkpoint of size {new.tree_size} does not extend the "
                    f"checkpoint of size {old.tree_size} the witness holds"
                )
        await anyio.to_thread.run_sync(partial(append_to_file, witness.path, newest))

    async def _to_http(
        self,
        witness: HttpWitness,
        newest: SignedCheckpoint,
        proof: ProofSource,
        http: httpx.AsyncClient,
    ) -> None:
        old = self._held.get(witness.name, 0)
        for _ in range(2):  # a 409 names the size held: one more try from there
            size = newest.checkpoint.tree_size
            if old > size:
                raise LogDoesNotExtend(
                    f"the witness holds a checkpoint of size {old}, larger than the "
                    f"log's newest ({size})"
                )
            path = await proof(old, size) if 0 < old < size else []
            answer = await http.post(
                witness.url,
                content=AddCheckpoint(old, path, newest).body(),
                headers={
                    "Authorization": f"Bearer {witness.token}",
                    "Content-Type": "text/plain; charset=utf-8",
                },
            )
            if answer.status_code == 200:
                return
            if answer.status_code == 409 and answer.headers.get("Tlog-Size", "").isdigit():
                old = int(answer.headers["Tlog-Size"])
                self._held[witness.name] = old
                continue
            if answer.status_code == 422:
                raise LogDoesNotExtend(
                    f"the witness refused the proof from size {old} to size {size}"
                )
            raise WitnessUnreachable(f"the witness answered HTTP {answer.status_code}")
        raise WitnessUnreachable("the witness's size kept changing")
