"""The gateway's connection limits that aiohttp has no knob for, at the protocol level.

aiohttp gives the idle keep-alive timeout (`keepalive_timeout`, which also closes a connection
that never sends a request) and header sizes; asyncio gives the TLS handshake timeout. Missing
are a header read timeout (a client trickling its headers is held until the idle timeout), a
bound on open connections, and API Gateway's bound on the whole head (aiohttp bounds each
line). Each accepted connection's protocol, aiohttp's request handler, is wrapped here: the
wrapper counts the connection, refuses it beyond the bound (503), answers 431 to a head over
the limit and 408 to one slower than the header timeout from its first byte. The gateway
tells it when a request's headers are in (`request_started`) and when its handler is done.
A slow or stuck client so costs only its own connection, for a bounded time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import cast

from infra.local.apigw import Limits


class Connections:
    """The protocol factory for the gateway's listening socket."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], limits: Limits) -> None:
        self._factory = factory
        self.limits = limits
        self._open: dict[asyncio.BaseTransport, _Guarded] = {}
        self.refused = 0  # over the bound: answered 503 and closed
        self.timed_out = 0  # headers too slow: closed

    @property
    def open(self) -> int:
        return len(self._open)

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def request_started(self, transport: asyncio.BaseTransport) -> None:
        if (conn := self._open.get(transport)) is not None:
            conn.request_started()

    def request_done(self, transport: asyncio.BaseTransport) -> None:
        if (conn := self._open.get(transport)) is not None:
            conn.request_done()

    def _accept(self, transport: asyncio.BaseTransport, conn: _Guarded) -> asyncio.Protocol | None:
        if len(self._open) >= self.limits.max_connections:
            self.refused += 1
            return None
        self._open[transport] = conn
        return self._factory()

    def _forget(self, transport: asyncio.BaseTransport) -> None:
        self._open.pop(transport, None)


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol inside, a header timer around it."""

    def __init__(self, owner: Connections) -> None:
        self._owner = owner
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        # "headers" (waiting for a request's headers, timed), "request" (its handler runs;
        # the body and integration have their own timeouts) or "idle" (keep-alive, aiohttp's).
        self._state = "headers"
        self._partial = False  # some bytes of the awaited headers have come
        self._head_bytes = 0  # of the awaited head so far
        self._head_done = False  # its blank line has come (the handler starts next)
        self._tail = b""  # the last 3 bytes, for a blank line split across chunks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport is a transport without subclassing asyncio.Transport.
        self._transport = transport = cast(asyncio.Transport, transport)
        self._inner = self._owner._accept(transport, self)
        if self._inner is None:
            limit = self._owner.limits.max_connections
            transport.write(
                _response(503, f"Service Unavailable: the gateway holds {limit} connections")
            )
            transport.close()
            return
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None or self._state == "closing":
            return  # refused, or answered and lingering: dropped
        if self._state == "idle":  # the next request's first byte: its headers' clock starts
            self._state = "headers"
            self._arm()
        if self._state == "headers":
            self._partial = True
            if self._head_too_large(data):
                limit = self._owner.limits.max_header_bytes
                self._answer(
                    431,
                    f"Request Header Fields Too Large: the request line and headers are over "
                    f"{limit} bytes",
                )
                return
        self._inner.data_received(data)

    def _head_too_large(self, data: bytes) -> bool:
        if self._head_done:
            return False
        joined = self._tail + data
        end = joined.find(b"\r\n\r\n")
        if end >= 0:
            self._head_done = True
            size = self._head_bytes - len(self._tail) + end + 4
        else:
            size = self._head_bytes = self._head_bytes + len(data)
            self._tail = joined[-3:]
        return size > self._owner.limits.max_header_bytes

    def eof_received(self) -> bool | None:
        if self._state == "closing" and self._transport is not None:
            self._transport.close()  # the client read the answer and is done
            return None
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self._inner is None:
            return
        assert self._transport is not None
        self._owner._forget(self._transport)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def request_started(self) -> None:
        self._state, self._partial = "request", False
        self._head_bytes, self._head_done, self._tail = 0, False, b""
        self._cancel()

    def request_done(self) -> None:
        # Idle until the next byte; aiohttp's keep-alive timeout closes it if none comes.
        if self._state == "request":
            self._state = "idle"

    def _arm(self) -> None:
        self._cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._owner.limits.header_timeout_s, self._headers_late)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        transport = self._transport
        if self._state != "headers" or transport is None or transport.is_closing():
            return
        self._owner.timed_out += 1
        if self._partial:  # a client that sent nothing gets no answer, as for an idle close
            timeout = self._owner.limits.header_timeout_s
            self._answer(408, f"Request Timeout: the headers took longer than {timeout:g} s")
        else:
            transport.close()

    def _answer(self, status: int, message: str) -> None:
        """Answer in aiohttp's stead and end the connection. Closing with unread input would
        reset it (and the client could lose the answer), so the answer is followed by end of
        stream where the transport can, and input is read and dropped for a moment first."""
        transport = self._transport
        assert transport is not None
        self._state = "closing"
        self._cancel()
        transport.write(_response(status, message))
        if transport.can_write_eof():
            transport.write_eof()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._owner.limits.linger_s, transport.close)


def _response(status: int, message: str) -> bytes:
    """A whole HTTP/1.1 error response, written before aiohttp has a request to answer."""
    reason = {
        408: "Request Timeout",
        431: "Request Header Fields Too Large",
        503: "Service Unavailable",
    }[status]
    body = json.dumps({"message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
