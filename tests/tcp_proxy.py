"""A loopback TCP proxy a test controls, standing in for the network between the gateway
and its database: it passes bytes, resets connections, or blackholes them.

    with TcpProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql://postgres@127.0.0.1:{proxy.port}/test"
        ...
        proxy.reset()      # every connection, open or new, is reset (RST)
        proxy.blackhole()  # new connections are accepted and held, never answered
        proxy.pass_through()

A userspace proxy on loopback cannot drop packets: the kernel acknowledges whatever it
sends to the proxy, so a connection held open would never look dead to TCP keepalives or
tcp_user_timeout, which is how the gateway finds a dead connection on a real network.
So `blackhole` closes the connections already open (what those settings do to them on a
real network, in their own time) and holds every new one: a partition as the gateway
meets it, connect attempts that are never answered.

It runs in a thread of its own, one select() over every socket; its waits are select
and socket timeouts (poll intervals, never a deadline on a clock faketime could stall).
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from types import TracebackType
from typing import Literal

Mode = Literal["pass", "reset", "blackhole"]
_TICK = 0.05  # seconds a socket operation waits before the proxy looks at its mode again


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_TICK)
        self.port: int = self._listener.getsockname()[1]
        self._mode: Mode = "pass"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._held: list[socket.socket] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)

    # -- control ---------------------------------------------------------------------

    def pass_through(self) -> None:
        with self._lock:
            self._mode = "pass"
            self._close_all(self._held, reset=True)

    def reset(self) -> None:
        """Every open connection is reset now, and every new one as it arrives."""
        with self._lock:
            self._mode = "reset"
            for client, server in self._pairs:
                _close(client, reset=True)
                _close(server, reset=True)
            self._pairs.clear()

    def blackhole(self) -> None:
        """Open connections are closed; every new one is accepted and held, unanswered."""
        with self._lock:
            self._mode = "blackhole"
            for client, server in self._pairs:
                _close(client, reset=True)
                _close(server, reset=True)
            self._pairs.clear()

    @property
    def held(self) -> int:
        """How many connections are being held unanswered."""
        with self._lock:
            return len(self._held)

    # -- life ------------------------------------------------------------------------

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stopping = True
        self._thread.join()
        self._listener.close()
        with self._lock:
            for client, server in self._pairs:
                _close(client)
                _close(server)
            self._close_all(self._held)

    def _run(self) -> None:
        while not self._stopping:
            with self._lock:
                pairs = list(self._pairs)
            ends = [end for pair in pairs for end in pair]
            readable, _, _ = select.select([self._listener, *ends], [], [], _TICK)
            for source in readable:
                if source is self._listener:
                    self._accept()
                else:
                    self._forward(source, pairs)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except (TimeoutError, BlockingIOError):
            return
        with self._lock:
            mode = self._mode
            if mode == "reset":
                _close(client, reset=True)
                return
            if mode == "blackhole":
                self._held.append(client)
                return
        try:
            server = socket.create_connection(self._upstream, timeout=1)
        except OSError:
            _close(client, reset=True)
            return
        for end in (client, server):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            end.settimeout(1)
        with self._lock:
            self._pairs.append((client, server))

    def _forward(
        self, source: socket.socket, pairs: list[tuple[socket.socket, socket.socket]]
    ) -> None:
        pair = next((p for p in pairs if source in p), None)
        if pair is None:
            return
        sink = pair[1] if source is pair[0] else pair[0]
        try:
            data = source.recv(65536)
            if data:
                sink.sendall(data)
                return
        except OSError:
            pass
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
                _close(pair[0])
                _close(pair[1])

    def _close_all(self, sockets: list[socket.socket], *, reset: bool = False) -> None:
        for end in sockets:
            _close(end, reset=reset)
        sockets.clear()


def _close(end: socket.socket, *, reset: bool = False) -> None:
    """Close `end`; with `reset`, abortively (RST), as a crashed peer or middlebox would."""
    try:
        if reset:
            end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        end.close()
    except OSError:
        pass
