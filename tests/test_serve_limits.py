"""The server without nginx in front (`kechuang serve`, the container image) protects itself: a huge or
endless request head, a half-sent request, an idle connection or a body cannot hold it, and a bystander's
request is answered meanwhile.

The real command line (`kechuang.operations.launch.server_arguments`), with the header-read timeout
shortened so the test need not wait the production 10 s for the server to close a connection.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import free_port, wait_until_up
from kechuang.operations.launch import HEADER_BYTES, server_arguments, server_environment

pytestmark = pytest.mark.slow

HEADER_TIMEOUT_MS = 1000


@pytest.fixture(scope="module")
def server(built_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    log = tmp_path_factory.mktemp("limits") / "server.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, *server_arguments("127.0.0.1", port, header_read_timeout_ms=HEADER_TIMEOUT_MS)],
            env={**os.environ, **server_environment(built_db)},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/-/release.json", process, timeout=120, log=log)
        yield "127.0.0.1", port
        assert process.poll() is None, "the server died"
    finally:
        process.terminate()
        process.wait(30)


def bystander(address: tuple[str, int]) -> None:
    response = httpx.get(f"http://{address[0]}:{address[1]}/kechuang/policies.json?_size=1", timeout=10)
    assert response.status_code == 200


def read_until_closed(connection: socket.socket) -> bytes:
    """What the server sends until it closes the connection (a reset counts as closed)."""
    connection.settimeout(30)  # a bound for a broken server, not a measurement
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_a_100_mb_header_is_refused_without_being_read(server):
    with socket.create_connection(server) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: portal\r\nX-Big: ")
        sent = 0
        try:
            chunk = b"a" * (1 << 20)
            for _ in range(100):
                connection.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed it: what we want
        answer = read_until_closed(connection)
    assert sent < 100 * (1 << 20), "the server read the whole header"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]  # a reset may lose the 431
    bystander(server)


def test_too_many_headers_are_refused(server):
    with socket.create_connection(server) as connection:
        fields = b"".join(b"X-Field-%d: v\r\n" % i for i in range(101))
        connection.sendall(b"GET / HTTP/1.1\r\nHost: portal\r\n" + fields + b"\r\n")
        assert read_until_closed(connection).startswith(b"HTTP/1.1 431")
    bystander(server)


def test_headers_within_the_limit_are_served(server):
    with socket.create_connection(server) as connection:
        connection.sendall(b"GET /-/release.json HTTP/1.1\r\nHost: portal\r\nConnection: close\r\n")
        connection.sendall(b"X-Fill: " + b"a" * (HEADER_BYTES // 2) + b"\r\n\r\n")
        assert read_until_closed(connection).startswith(b"HTTP/1.1 200")
    bystander(server)


def test_a_half_sent_request_does_not_hold_the_server(server):
    with socket.create_connection(server) as connection:
        connection.sendall(b"GET /api/v1/targets HTTP/1.1\r\nHost: portal\r\n")  # never finished
        bystander(server)  # answered while the half-sent request is open
        assert read_until_closed(connection) == b""  # closed after the header-read timeout


def test_an_idle_keep_alive_connection_is_closed(server):
    with socket.create_connection(server) as connection:
        connection.sendall(b"GET /-/release.json HTTP/1.1\r\nHost: portal\r\n\r\n")
        answer = read_until_closed(connection)  # the answer, then nothing until the server closes it
    assert answer.startswith(b"HTTP/1.1 200")
    bystander(server)


def test_a_body_is_refused_before_it_is_read(server):
    with socket.create_connection(server) as connection:
        connection.sendall(b"GET /api/v1/targets HTTP/1.1\r\nHost: portal\r\nContent-Length: 104857600\r\n\r\n")
        connection.sendall(b"a" * 65536)
        answer = read_until_closed(connection)  # the 413, then the connection is closed, the rest unread
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    bystander(server)
