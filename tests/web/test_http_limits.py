"""`gateway serve`'s HTTP limits, tried on a real server over raw loopback sockets: an
oversized request head, too many header fields, a head sent too slowly, and too many
connections from one address (loopback has many: 127.0.0.2 is another source)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.servers import running_server, running_server_process

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
LIMITS = {
    "GATEWAY_HTTP_MAX_HEADER_BYTES": "8192",
    "GATEWAY_HTTP_MAX_HEADERS": "50",
    "GATEWAY_HTTP_HEADER_TIMEOUT_SECONDS": "1",
    "GATEWAY_HTTP_MAX_CONNECTIONS_PER_SOURCE": "4",
}


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[tuple[str, int]]:
    with running_server(database_url, **LIMITS) as base:
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


def connect(server: tuple[str, int], source: str = "127.0.0.1") -> socket.socket:
    connection = socket.socket()
    connection.bind((source, 0))
    # Every wait below is bounded by this, never by a sleep (the suite runs under faketime).
    connection.settimeout(10)
    connection.connect(server)
    return connection


def answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    connection.close()
    return received


def exchange(server: tuple[str, int], request: bytes, source: str = "127.0.0.1") -> bytes:
    connection = connect(server, source)
    connection.sendall(request)
    return answer(connection)


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def outcome_code(response: bytes) -> str:
    body = json.loads(response.split(b"\r\n\r\n", 1)[1])
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["code"])


def test_a_request_within_the_limits_is_served(served: tuple[str, int]) -> None:
    fields = b"".join(b"X-Field-%d: value\r\n" % n for n in range(40))
    assert status(exchange(served, HEALTHZ + fields + b"\r\n")) == 200


@pytest.mark.parametrize("size", [20_000, 5_000_000], ids=["20KB", "5MB"])
def test_an_oversized_request_head_is_refused_431(served: tuple[str, int], size: int) -> None:
    response = exchange(served, HEALTHZ + b"X-Big: " + b"a" * size + b"\r\n\r\n")
    assert status(response) == 431
    assert outcome_code(response) == "too-long"
    assert b"aaaa" not in response  # nothing of the request is echoed


@pytest.mark.parametrize("count", [51, 3000])
def test_too_many_header_fields_are_refused_431(served: tuple[str, int], count: int) -> None:
    fields = b"".join(b"X-%d: 1\r\n" % n for n in range(count))
    response = exchange(served, HEALTHZ + fields + b"\r\n")
    assert status(response) == 431
    assert outcome_code(response) == "too-long"


def test_a_connection_that_does_not_finish_its_head_in_time_is_closed(
    served: tuple[str, int],
) -> None:
    """A slowloris: part of a head, then nothing. The server closes it (1 s configured);
    the client's 10 s read timeout would fail the test if it did not."""
    slow = connect(served)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
    assert answer(slow) == b""
    silent = connect(served)
    assert answer(silent) == b""


def test_a_kept_alive_connection_gets_the_same_time_for_its_next_head(
    served: tuple[str, int],
) -> None:
    connection = connect(served)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
    first = b""
    while not first.endswith(b'{"status":"ok"}'):
        first += connection.recv(65536)
    assert status(first) == 200
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n")  # and never the end
    assert answer(connection) == b""


def test_one_address_may_hold_only_so_many_connections_and_others_are_still_served(
    served: tuple[str, int],
) -> None:
    held = [connect(served) for _ in range(4)]
    for connection in held:  # each has sent part of a head, so the server has accepted it
        connection.sendall(b"GET /healthz HTTP/1.1\r\n")
    refused = answer(connect(served))  # told at once, before it sends anything
    assert status(refused) == 503
    assert b"retry-after: 1" in refused.lower()
    assert outcome_code(refused) == "transient"
    # Another address is served while the first hogs its share (health checks included).
    assert status(exchange(served, HEALTHZ + b"\r\n", source="127.0.0.2")) == 200
    # Within the cap again once one is closed: the first address is served too.
    held.pop().close()
    assert _served_once_it_is_counted_closed(served)
    for connection in held:
        connection.close()


def _served_once_it_is_counted_closed(server: tuple[str, int]) -> bool:
    """The server sees the close asynchronously: a bounded number of tries, no sleeps."""
    return any(status(exchange(server, HEALTHZ + b"\r\n")) == 200 for _ in range(50))


def test_300_silent_sockets_under_a_256_descriptor_limit_leave_the_server_answering(
    database_url: str,
) -> None:
    """The review's case: 300 silent sockets from one address stopped a server limited
    to 256 descriptors, health checks included. With the default limits (64 per address,
    10 s for a head) the rest are refused at once, and another address is still served,
    /readyz (which needs the database) included."""
    with running_server_process(database_url, open_files=256) as (base, _):
        host, port = base.removeprefix("http://").split(":")
        server = (host, int(port))
        hogs = [connect(server) for _ in range(300)]
        try:
            for path in (b"/healthz", b"/readyz"):
                request = b"GET " + path + b" HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n"
                assert status(exchange(server, request, source="127.0.0.2")) == 200
            # The 64 the address may hold are still open; the other 236 were told no.
            refused = [hog for hog in hogs[64:] if status(answer(hog)) == 503]
            assert len(refused) == 236
        finally:
            for hog in hogs:
                hog.close()
