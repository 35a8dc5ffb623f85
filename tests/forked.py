"""`gateway` commands as real processes forked from a warm parent, for end-to-end tests.

A `gateway` process spends about three seconds of CPU importing FastAPI, SQLAlchemy,
pydantic and the gateway before it does anything, and the suite starts a few hundred of
them. Each pytest worker therefore keeps one parent process (this module run as a
script) that has imported the commands once; each process a test asks for is forked from
it and runs the command's own entry point, `gateway.commands.cli:run`, with the test's
arguments, environment, working directory, umask, descriptor limit and standard streams.
What the test gets is a process of its own, on its own PID, listening on its own sockets,
stopped by real signals, whose exit status is its own (a signal's is negative, as
subprocess reports it). Only the interpreter's start and the imports are shared.

Each command is still started from a fresh interpreter (`tests.servers.GATEWAY`) by at
least one test: the entry point, the lazy imports and the start-up hooks are tested as
an operator runs them.

The parent serves requests on a Unix socket: the request names the arguments and the
rest as JSON and carries the three standard streams' descriptors (SCM_RIGHTS). The parent
answers with the child's PID, and later with its wait status, on the same connection.
It exits when the pytest worker that started it goes (its stdin closes).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import io
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.paths import REPO

# What a fresh `gateway` process imports for its commands; the parent imports it once.
_WARM_MODULES = (
    "gateway.commands.cli",
    "gateway.commands.serve",
    "gateway.commands.audit",
    "gateway.commands.worker",
    "gateway.commands.token",
    "gateway.commands.config",
    "gateway.commands.db",
    "gateway.commands.outbox",
)


class ForkedProcess:
    """As much of subprocess.Popen as the tests use, for a process the warm parent forked."""

    def __init__(self, args: Sequence[str], connection: socket.socket, pid: int) -> None:
        self.args = list(args)
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection

    def poll(self) -> int | None:
        if self.returncode is None:
            self._collect(timeout=0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._collect(timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # never a PID the kernel may since have given another
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _collect(self, timeout: float | None) -> None:
        ready, _, _ = select.select([self._connection], [], [], timeout)
        if not ready:
            return
        message = _read_line(self._connection)
        self._connection.close()
        if message is None:
            raise RuntimeError("the warm parent went away before its child ended")
        self.returncode = os.waitstatus_to_exitcode(json.loads(message)["status"])

    def __enter__(self) -> ForkedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.poll() is None:
            self.kill()
            self.wait()


def start(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    stdout: int | None = None,
    stderr: int | None = None,
    umask: int = -1,
    open_files: int | None = None,
    start_new_session: bool = False,
) -> ForkedProcess:
    """`gateway ARGS` as a process forked from the warm parent. `stdout`/`stderr`: a
    descriptor to write to (default: this process's own, as a child would inherit them;
    subprocess.DEVNULL; subprocess.STDOUT for stderr)."""
    streams = _streams(stdout, stderr)
    try:
        request = {
            "argv": list(args),
            "env": dict(env),
            "cwd": os.getcwd(),
            "umask": umask,
            "open_files": open_files,
            "new_session": start_new_session,
        }
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(str(_parent().socket_path))
        socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], streams)
    finally:
        for descriptor in streams[3:]:
            os.close(descriptor)
    answer = _read_line(connection)
    if answer is None:
        raise RuntimeError("the warm parent did not fork the command")
    return ForkedProcess(args, connection, json.loads(answer)["pid"])


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float | None = None,
    umask: int = -1,
) -> subprocess.CompletedProcess[str]:
    """As subprocess.run(capture_output=True, text=True, check=False) of `gateway ARGS`."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        process = start(args, env=env, stdout=out_write, stderr=err_write, umask=umask)
    finally:
        os.close(out_write)
        os.close(err_write)
    captured = {out_read: bytearray(), err_read: bytearray()}
    deadline = None if timeout is None else time.monotonic() + timeout
    open_ends = [out_read, err_read]
    try:
        while open_ends:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                process.kill()
                process.wait()
                raise subprocess.TimeoutExpired(process.args, timeout or 0)
            ready, _, _ = select.select(open_ends, [], [], left)
            for descriptor in ready:
                chunk = os.read(descriptor, 65536)
                if chunk:
                    captured[descriptor] += chunk
                else:
                    open_ends.remove(descriptor)
        left = None if deadline is None else max(deadline - time.monotonic(), 0.1)
        returncode = process.wait(timeout=left)
    finally:
        os.close(out_read)
        os.close(err_read)
    return subprocess.CompletedProcess(
        process.args, returncode, captured[out_read].decode(), captured[err_read].decode()
    )


def _streams(stdout: int | None, stderr: int | None) -> list[int]:
    """stdin, stdout and stderr for the child; descriptors past the third are opened
    here and closed once sent."""
    opened: list[int] = []

    def resolve(wanted: int | None, inherited: int) -> int:
        if wanted == subprocess.DEVNULL:
            opened.append(os.open(os.devnull, os.O_RDWR))
            return opened[-1]
        return inherited if wanted is None else wanted

    stdin = resolve(subprocess.DEVNULL, 0)
    out = resolve(stdout, 1)
    err = out if stderr == subprocess.STDOUT else resolve(stderr, 2)
    return [stdin, out, err, *opened]


def _read_line(connection: socket.socket) -> bytes | None:
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = connection.recv(4096)
        if not chunk:
            return None
        line += chunk
    return bytes(line)


class _Parent:
    def __init__(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="gateway-warm-"))
        self.socket_path = directory / "parent.sock"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forked", str(self.socket_path)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not self.socket_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the warm parent did not start")
            time.sleep(0.05)
        atexit.register(self.stop)

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        shutil.rmtree(self.socket_path.parent, ignore_errors=True)


_the_parent: _Parent | None = None


def _parent() -> _Parent:
    global _the_parent  # noqa: PLW0603 (one per test process, started on first use)
    if _the_parent is None or _the_parent.process.poll() is not None:
        _the_parent = _Parent()
    return _the_parent


# The warm parent itself.


def _warm() -> None:
    """Imports, and the read-only caches every gateway process fills the same way at its
    start: the FHIR models the configuration names, HL7's schema and its validators."""
    for module in _WARM_MODULES:
        __import__(module)
    from fhir.resources.R4B import get_fhir_model_class  # noqa: PLC0415

    from core.fhir.models import SUPPORTED_RESOURCE_TYPES  # noqa: PLC0415
    from gateway.configuration.loader import load_config  # noqa: PLC0415
    from gateway.fhir import schema_check  # noqa: PLC0415

    load_config(REPO / "config" / "demo")
    schema_check.load()
    for resource_type in (*SUPPORTED_RESOURCE_TYPES, "OperationOutcome", "Bundle"):
        get_fhir_model_class(resource_type)
        schema_check.schema_issues({"resourceType": resource_type}, resource_type)


def _serve(socket_path: str) -> dict[str, Any]:
    """Forks a child per request; returns only in a child, with its request."""
    _warm()
    # What every child inherits is never collected: the children neither copy the pages
    # the collector would touch nor walk it all again at exit.
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".tmp")
    listener.listen(64)
    os.rename(socket_path + ".tmp", socket_path)
    waiting: dict[int, socket.socket] = {}  # child PID: its requester's connection
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [], 0.05)
        if sys.stdin in ready and not sys.stdin.buffer.read1(1):
            return {}  # the pytest worker has gone
        if listener in ready:
            connection, _ = listener.accept()
            message, descriptors, _, _ = socket.recv_fds(connection, 1 << 20, 3)
            while not message.endswith(b"\n"):
                message += connection.recv(1 << 20)
            request: dict[str, Any] = json.loads(message)
            pid = os.fork()
            if pid == 0:
                listener.close()
                for other in waiting.values():
                    other.close()
                connection.close()
                _become_the_child(request, descriptors)
                return request
            for descriptor in descriptors:
                os.close(descriptor)
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            waiting[pid] = connection
        _reap(waiting)


def _reap(waiting: dict[int, socket.socket]) -> None:
    while waiting:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = waiting.pop(pid, None)
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps({"status": status}).encode() + b"\n")
            connection.close()


def _become_the_child(request: dict[str, Any], descriptors: list[int]) -> None:
    for target, descriptor in enumerate(descriptors):
        os.dup2(descriptor, target)
    for descriptor in set(descriptors):
        if descriptor > 2:
            os.close(descriptor)
    if request["new_session"]:
        os.setsid()
    if request["umask"] != -1:
        os.umask(request["umask"])
    if request["open_files"] is not None:
        limit = request["open_files"]
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # The streams an interpreter started with this environment would have made.
    unbuffered = bool(request["env"].get("PYTHONUNBUFFERED"))
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = _output_stream(1, line_buffering=False, unbuffered=unbuffered)
    sys.stderr = _output_stream(2, line_buffering=True, unbuffered=unbuffered)
    cli = sys.modules["gateway.commands.cli"]
    sys.argv = [cli.__file__ or "gateway", *request["argv"]]


def _output_stream(descriptor: int, *, line_buffering: bool, unbuffered: bool) -> io.TextIOWrapper:
    raw = io.FileIO(descriptor, "w", closefd=False)
    return io.TextIOWrapper(
        raw if unbuffered else io.BufferedWriter(raw),
        encoding="utf-8",
        errors="backslashreplace" if descriptor == 2 else "strict",
        line_buffering=line_buffering,
        write_through=unbuffered,
    )


if __name__ == "__main__":
    if _serve(sys.argv[1]):
        # In the child: the command's entry point, and the interpreter's own exit
        # (non-daemon threads joined, atexit handlers run, streams flushed).
        from gateway.commands.cli import run as gateway

        gateway()
