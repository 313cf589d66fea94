"""Hostile clients against `slipway serve` over HTTPS on loopback, from raw sockets.

Each request gets its documented status, quickly, as a JSON body, and the platform keeps
serving after each one; the gateway's memory stays bounded (RSS printed before and after).
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.soak import rss_mb
from tests.infra.local.serving import Served, serve, serve_pids

pytestmark = pytest.mark.integration

ROW = b"[" + b",".join([b"0"] * 64) + b"]"
QUICK_S = 15.0  # "quickly": well inside API Gateway's 30 s integration timeout


@pytest.fixture(scope="module")
def platform(example_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(example_store, tmp_path_factory.mktemp("hostile")) as s:
        yield s


def exchange(
    served: Served, request: bytes, timeout: float = 60
) -> tuple[int, dict[str, str], bytes]:
    """One request on its own TLS connection; (status, headers, body) of the answer."""
    ctx = ssl.create_default_context(cafile=served.cert)
    with (
        socket.create_connection(("127.0.0.1", served.port), timeout=timeout) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        s.sendall(request)
        data = b""
        while True:
            try:
                chunk = s.recv(1 << 16)
            except (ConnectionResetError, ssl.SSLError):
                break
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])
                }
                if len(body) >= int(headers.get("content-length", "-1")) >= 0:
                    return int(lines[0].split()[1]), headers, body
    raise AssertionError(f"no complete answer: {data[:300]!r}")


def post(body: bytes, ctype: bytes | None = b"application/json", extra: bytes = b"",
         version: bytes = b"HTTP/1.1") -> bytes:  # fmt: skip
    head = b"POST /predict " + version + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if ctype is not None:
        head += b"Content-Type: " + ctype + b"\r\n"
    return head + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


CASES = {
    "6.5 MB body": (post(b'{"inputs": [' + b",".join([ROW] * 50_000) + b"]}"), 413),
    "11 MB body": (post(b"x" * 11_000_000), 413),
    "100 000-deep nesting": (post(b"[" * 100_000 + b"]" * 100_000), 400),
    "1e400": (post(b'{"inputs": [[1e400' + b",0" * 63 + b"]]}"), 400),
    "100 000-row batch": (post(b'{"inputs": [' + b",".join([b"[0]"] * 100_000) + b"]}"), 413),
    "wrong content type": (post(b'{"inputs": [' + ROW + b"]}", b"text/plain"), 415),
    "invalid UTF-8": (post(b'{"inputs": "\xff\xfe"}'), 400),
    "100 KB header": (post(b'{"inputs": [' + ROW + b"]}", extra=b"X-Big: " + b"a" * 100_000 + b"\r\n"), 431),
    "missing content type": (post(b'{"inputs": [' + ROW + b"]}", None), 200),
    "HTTP/1.0": (post(b'{"inputs": [' + ROW + b"]}", version=b"HTTP/1.0"), 200),
    # An encoded newline in the path: the function's JSON 404, not the framework's text/plain.
    "%0A in the path": (b"GET /x%0Ay HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 404),
}  # fmt: skip


def gateway_rss_mb(served: Served) -> float:
    """Resident memory of the `slipway serve` process listening on the platform's port."""
    return sum(rss_mb(pid) for pid in serve_pids(served.port))


def test_hostile_requests_get_their_documented_status_quickly(platform: Served) -> None:
    before = gateway_rss_mb(platform)
    seen = {}
    for name, (request, expected) in CASES.items():
        started = time.perf_counter()
        status, headers, body = exchange(platform, request)
        took = time.perf_counter() - started
        seen[name] = (status, round(took * 1000, 1))
        assert status == expected, (name, status, body[:300])
        assert headers.get("content-type", "").startswith("application/json"), (name, headers)
        json.loads(body)  # a JSON body, whatever the status
        assert len(body) < 4096 or status == 200, (name, len(body))  # never an echo of the input
        assert took < QUICK_S, (name, took)
        health = httpx.get(platform.url + "/health", verify=platform.cert, timeout=30)
        assert health.status_code == 200, (name, health.text)  # and the platform keeps serving
    after = gateway_rss_mb(platform)
    print(f"hostile cases (status, ms): {seen}; gateway RSS {before:.1f} -> {after:.1f} MB")
    assert after - before < 200, (before, after)


def test_five_hundred_concurrent_connections_are_each_answered(platform: Served) -> None:
    body = json.dumps({"inputs": [[0] * 64]}).encode()
    request = post(body)
    ctx = ssl.create_default_context(cafile=platform.cert)

    async def one() -> str:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", platform.port, ssl=ctx), 60
        )
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 60)
        writer.close()
        return data.split(b" ", 2)[1].decode()

    async def all_of_them() -> list[str | BaseException]:
        return await asyncio.gather(*(one() for _ in range(500)), return_exceptions=True)

    started = time.perf_counter()
    results = asyncio.run(all_of_them())
    statuses = Counter(r if isinstance(r, str) else type(r).__name__ for r in results)
    print(f"500 concurrent connections: {dict(statuses)} in {time.perf_counter() - started:.1f} s")
    # Served or throttled, as Lambda's concurrency limit does: nothing dropped, nothing else.
    assert set(statuses) <= {"200", "429"} and statuses["200"] >= 1, statuses
    assert httpx.get(platform.url + "/health", verify=platform.cert, timeout=30).status_code == 200
