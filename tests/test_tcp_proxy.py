"""The proxy the fault tests put between a server and its database: it passes bytes both
ways, resets connections (open and new), and blackholes them (accepts and holds new ones,
unanswered). Bounded by socket timeouts only."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.tcp_proxy import TcpProxy


@pytest.fixture
def echo() -> Iterator[int]:
    """A loopback server that sends back what it receives, on a port of its own."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_echo, args=(connection,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def _echo(connection: socket.socket) -> None:
    with connection:
        try:
            while data := connection.recv(1024):
                connection.sendall(data)
        except OSError:
            return  # the proxy reset it


def _connect(proxy: TcpProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=2)


def _cut(connection: socket.socket) -> bool:
    """Whether the connection was reset (or closed): no answer will ever come."""
    try:
        connection.sendall(b"ping")
        return connection.recv(4) == b""
    except ConnectionResetError:
        return True


def _new_connection_cut(proxy: TcpProxy) -> bool:
    try:
        with _connect(proxy) as connection:
            return _cut(connection)
    except ConnectionResetError:  # reset before connect() returned
        return True


def test_bytes_pass_both_ways(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy, _connect(proxy) as client:
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"


def test_reset_ends_open_connections_and_refuses_new_ones(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy, _connect(proxy) as open_one:
        open_one.sendall(b"ping")
        assert open_one.recv(4) == b"ping"
        proxy.reset()
        assert _cut(open_one)
        assert _new_connection_cut(proxy)


def test_blackhole_holds_new_connections_unanswered_until_passing_again(echo: int) -> None:
    with TcpProxy("127.0.0.1", echo) as proxy:
        proxy.blackhole()
        with _connect(proxy) as held:  # accepted...
            held.settimeout(0.3)
            held.sendall(b"ping")
            with pytest.raises(TimeoutError):  # ...and never answered
                held.recv(4)
            assert proxy.held == 1
        proxy.pass_through()
        assert proxy.held == 0
        with _connect(proxy) as client:
            client.sendall(b"ping")
            assert client.recv(4) == b"ping"
