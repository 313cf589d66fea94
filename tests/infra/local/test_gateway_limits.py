"""The gateway's connection limits against slow and stuck clients (raw sockets, loopback)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvloop

from infra.local.apigw import Limits
from infra.local.gateway.background import BackgroundPlatform
from infra.local.gateway.server import LocalPlatform
from infra.local.runtime.artifacts import runtime_dir
from tests.infra.local.test_faults import publish

pytestmark = pytest.mark.integration  # servers and environment processes

LOOPS = ["asyncio", "uvloop"]  # tests and `slipway serve` (uvloop, whose TLS differs)
HEAD = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@contextmanager
def gateway(
    root: Path,
    *,
    tls: bool = False,
    integration_timeout_s: float = 30.0,
    loop: str = "asyncio",
    **limits: float,
) -> Iterator[BackgroundPlatform]:
    """A platform serving the test function, with these connection limits."""
    publish(root)
    lp = LocalPlatform(
        root,
        runtime_dir=runtime_dir(root),
        port=0,
        tls=tls,
        concurrency=2,
        log=lambda _: None,
        integration_timeout_s=integration_timeout_s,
        limits=Limits(**limits),  # type: ignore[arg-type]
    )
    with BackgroundPlatform(lp, uvloop.new_event_loop() if loop == "uvloop" else None) as bg:
        yield bg


def connect(bg: BackgroundPlatform) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", bg.platform.port), timeout=10)
    sock.settimeout(10)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection (a reset counts as closed);
    a connection still open after the socket's timeout raises TimeoutError."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, ssl.SSLError):  # closed without a TLS goodbye
        pass
    return data


def tls_connect(bg: BackgroundPlatform) -> socket.socket:
    context = ssl.create_default_context(cafile=str(bg.platform.cert))
    return context.wrap_socket(connect(bg), server_hostname="127.0.0.1")


def healthy(bg: BackgroundPlatform) -> int:
    verify = str(bg.platform.cert) if bg.platform.tls else False
    r = httpx.get(bg.url + "/hello", timeout=10, verify=verify)  # within 10 s, or this raises
    return r.status_code


def open_connections(bg: BackgroundPlatform, count: int) -> None:
    """Wait until the gateway holds `count` connections (accepting is asynchronous)."""
    deadline = time.monotonic() + 10
    while bg.call(_open(bg.platform)) != count:
        assert time.monotonic() < deadline, f"the gateway never held {count} connections"
        time.sleep(0.02)


async def _open(platform: LocalPlatform) -> int:
    assert platform.connections is not None
    return platform.connections.open


@pytest.mark.parametrize("tls", [False, True])
@pytest.mark.parametrize("loop", LOOPS)
def test_slow_headers_are_closed_while_a_healthy_client_is_served(
    tmp_path: Path, loop: str, tls: bool
) -> None:
    with gateway(tmp_path, header_timeout_s=1.0, loop=loop, tls=tls) as bg:
        opener = tls_connect if tls else connect  # over TLS the headers come after a handshake
        slow = [opener(bg) for _ in range(50)]
        started = time.monotonic()
        for sock in slow:
            sock.sendall(HEAD)
        # Trickle a header byte by byte past the timeout: steady progress does not extend it.
        while time.monotonic() - started < 2.0:
            for sock in slow:
                with contextlib.suppress(OSError):  # closed by the gateway already
                    sock.send(b"x")
            time.sleep(0.1)
        assert healthy(bg) == 200
        answers = [read_until_closed(sock) for sock in slow]  # TimeoutError if one is held
        for sock in slow:
            sock.close()
        assert all(a == b"" or a.startswith(b"HTTP/1.1 408") for a in answers), answers[:3]
        assert bg.platform.connections is not None and bg.platform.connections.timed_out >= 50
        assert healthy(bg) == 200


def test_a_silent_connection_is_closed_after_the_header_timeout(tmp_path: Path) -> None:
    with gateway(tmp_path, header_timeout_s=1.0) as bg, connect(bg) as sock:
        assert read_until_closed(sock) == b""  # nothing asked, nothing answered


def test_a_tls_handshake_that_never_comes_is_closed(tmp_path: Path) -> None:
    with gateway(tmp_path, tls=True, header_timeout_s=1.0) as bg, connect(bg) as sock:
        assert read_until_closed(sock) == b""
        cert = str(bg.platform.cert)
        assert (
            httpx.get(bg.url + "/hello", verify=ssl.create_default_context(cafile=cert)).status_code
            == 200
        )


def test_idle_keep_alive_connections_are_closed(tmp_path: Path) -> None:
    with gateway(tmp_path, idle_timeout_s=1.5) as bg, connect(bg) as sock:
        sock.sendall(HEAD + b"\r\n")
        answer = read_until_closed(sock)  # the response, then the idle close
        assert answer.startswith(b"HTTP/1.1 200") and b'"pid"' in answer


def test_the_next_request_on_a_kept_connection_has_the_header_timeout(tmp_path: Path) -> None:
    with gateway(tmp_path, header_timeout_s=1.0, idle_timeout_s=30) as bg, connect(bg) as sock:
        sock.sendall(HEAD + b"\r\n")
        time.sleep(0.5)  # the first response comes; then half a second request
        sock.sendall(HEAD)
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408 Request Timeout" in answer


def test_a_slow_body_gets_408_and_the_connection_is_closed(tmp_path: Path) -> None:
    with gateway(tmp_path, body_timeout_s=1.0) as bg, connect(bg) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n" + b"x" * 10
        )
        answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 408") and b"the body took longer than 1 s" in answer
        assert healthy(bg) == 200


@pytest.mark.parametrize("loop", LOOPS)
def test_connections_beyond_the_bound_get_503_and_closed(tmp_path: Path, loop: str) -> None:
    with gateway(tmp_path, max_connections=20, header_timeout_s=30, loop=loop) as bg:
        held = [connect(bg) for _ in range(20)]
        try:
            open_connections(bg, 20)
            with connect(bg) as extra:
                answer = read_until_closed(extra)
            assert answer.startswith(b"HTTP/1.1 503") and b"holds 20 connections" in answer
            held.pop().close()  # a slot frees: a new client is served
            open_connections(bg, 19)
            assert healthy(bg) == 200
            assert bg.platform.connections is not None and bg.platform.connections.refused == 1
        finally:
            for sock in held:
                sock.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_heads_up_to_api_gateways_10240_bytes(tmp_path: Path, loop: str) -> None:
    with gateway(tmp_path, loop=loop) as bg:
        for size, status in ((10_000, b"200"), (11_000, b"431"), (100_000, b"431")):
            with connect(bg) as sock:
                big = b"X-Big: " + b"a" * size + b"\r\nConnection: close\r\n\r\n"
                sock.sendall(HEAD + big)
                answer = read_until_closed(sock)
                assert answer.split(b" ", 2)[1] == status, (size, answer[:200])
        # Many headers, each short: the whole head counts, as on API Gateway.
        with connect(bg) as sock:
            sock.sendall(HEAD + b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 100) for i in range(110)))
            answer = read_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 431") and b"10240 bytes" in answer
        assert healthy(bg) == 200
