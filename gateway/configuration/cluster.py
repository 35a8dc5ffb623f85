"""A configuration reload that reaches every process sharing the store.

`gateway config reload`, or SIGHUP to any one `gateway serve` or `gateway worker` that
then reloads successfully, records a reload request in the store (`configuration_reloads`)
and, on PostgreSQL, sends NOTIFY on RELOAD_CHANNEL in the same transaction. Every serve
and worker process follows the requests (ClusterReloads.follow): woken by the
notification, and reading the newest request every `config_poll_seconds` whatever
happens (SQLite has no NOTIFY; a lost listening connection costs latency, never the
reload). A process that sees a request newer than the last it acted on reloads from
its own configuration directory, through the same check as a SIGHUP: a bad file is
refused there, the running configuration kept, the refusal logged (and, in serve, in
the access log).

Each request carries its requester's directory fingerprint (SHA-256 over the files'
names and bytes); a process whose own directory differs logs
`config.fingerprint_differs`, the sign of a host whose mounted configuration is stale.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.to_thread
import psycopg
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.exchange.wakeups import RECONNECT_SECONDS, libpq_conninfo
from gateway.platform.clock import utc_now
from gateway.platform.database import Database
from gateway.platform.logging import get_logger
from gateway.platform.schema import configuration_reloads

log = get_logger(__name__)

RELOAD_CHANNEL = "gateway_config_reload"


@dataclass(frozen=True, slots=True)
class ReloadRequest:
    seq: int
    fingerprint: str


def fingerprint(config_dir: Path) -> str:
    """SHA-256 over every file's path (relative to the directory) and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in config_dir.rglob("*") if p.is_file()):
        name = path.relative_to(config_dir).as_posix().encode()
        digest.update(len(name).to_bytes(4, "big") + name)
        content = path.read_bytes()
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


def request_reload(database: Database, config_dir: Path, origin: str) -> int:
    """Ask every process on the store to reload; the request's sequence number."""
    requester = f"{origin} on {socket.gethostname()} pid {os.getpid()}"[:255]
    with database.write() as connection:
        seq = connection.execute(
            insert(configuration_reloads)
            .values(
                fingerprint=fingerprint(config_dir),
                requested_by=requester,
                requested_at=utc_now(),
            )
            .returning(configuration_reloads.c.seq)
        ).scalar_one()
        if database.dialect == "postgresql":
            # Delivered when (and only if) the request commits.
            connection.execute(text(f"NOTIFY {RELOAD_CHANNEL}"))
    log.info("config.reload_requested", reload_request=seq)
    return int(seq)


def newest_request(database: Database) -> ReloadRequest | None:
    with database.read() as connection:
        newest = connection.execute(select(func.max(configuration_reloads.c.seq))).scalar()
        if newest is None:
            return None
        row = connection.execute(
            select(configuration_reloads.c.fingerprint).where(configuration_reloads.c.seq == newest)
        ).scalar_one()
    return ReloadRequest(int(newest), str(row))


class ClusterReloads:
    """One process's following of the store's reload requests."""

    def __init__(self, database: Database, config_dir: Path, poll_seconds: float) -> None:
        self._database = database
        self._config_dir = config_dir
        self._poll_seconds = poll_seconds
        newest = newest_request(database)
        # Requests made before this process started are in the configuration it loaded.
        self.seen = newest.seq if newest else 0
        self._wake = anyio.Event()

    def request(self, origin: str) -> int | None:
        """Ask the others to reload (this process has): the request's number, or None
        when the store could not record it (logged; each process still reloads on its
        own SIGHUP, and the operator can ask again with `gateway config reload`)."""
        try:
            seq = request_reload(self._database, self._config_dir, origin)
        except SQLAlchemyError as error:
            log.error("config.reload_request_failed", error_type=type(error).__name__)
            return None
        self.seen = max(self.seen, seq)
        return seq

    async def follow(self, reload: Callable[[], Awaitable[bool]]) -> None:
        """Until cancelled: reload (with `reload`) for each newer request."""
        async with anyio.create_task_group() as group:
            if self._database.dialect == "postgresql":
                group.start_soon(self._listen)
            while True:
                with anyio.move_on_after(self._poll_seconds):
                    await self._wake.wait()
                self._wake = anyio.Event()
                try:
                    newest = await anyio.to_thread.run_sync(newest_request, self._database)
                except SQLAlchemyError as error:
                    # The next look tries again; the message may name the host, never data.
                    log.warning("config.reload_look_failed", error_type=type(error).__name__)
                    continue
                if newest is None or newest.seq <= self.seen:
                    continue
                own = await anyio.to_thread.run_sync(fingerprint, self._config_dir)
                if own != newest.fingerprint:
                    log.warning("config.fingerprint_differs", reload_request=newest.seq)
                log.info("config.reload_followed", reload_request=newest.seq)
                try:
                    await reload()
                except Exception:  # this follower must outlive any failure
                    # E.g. the store unreachable or busy while recording the reload: the
                    # running configuration stays, and the next look tries the request
                    # again. Logged with the error's type and where, never its message.
                    log.exception("config.reload_failed")
                    continue
                self.seen = max(self.seen, newest.seq)

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(
                    libpq_conninfo(self._database.url), autocommit=True
                )
                try:
                    await connection.execute(f"LISTEN {RELOAD_CHANNEL}")
                    failures = 0
                    self._wake.set()  # anything requested while not listening
                    async for _ in connection.notifies():
                        self._wake.set()
                finally:
                    with anyio.CancelScope(shield=True):
                        await connection.close()
            except psycopg.Error as error:
                log.warning("config.listen_failed", error_type=type(error).__name__)
            pause = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
            failures += 1
            await anyio.sleep(pause)
