"""/_slipway/ on the gateway: the console page, its snapshot and a server-sent event stream.

The gateway's reserved path (`infra.local.gateway.server.RESERVED`), as API Gateway has its
own: `slipway serve` attaches the console there, answered before routing, never reaching the
function. The page is one file with its script and styles inline: no build step, nothing
loaded from elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from infra.local.console import snapshot
from infra.local.console.metrics import Recent
from infra.local.gateway.reserved import RESERVED, json_error
from infra.local.gateway.server import LocalPlatform

PREFIX = RESERVED
PAGE = Path(__file__).with_name("page.html")
EVERY_S = 1.0  # the event stream's period
FRESH_S = 0.5  # a snapshot is shared by every viewer for this long
MAX_STREAMS = 16  # open event streams at once; one more gets 503
JSON = "application/json"


class Console:
    def __init__(self, platform: LocalPlatform) -> None:
        self.platform = platform
        self.recent = Recent()
        self._examples: dict[int, Any] = {}
        self._cached: tuple[float, bytes] = (0.0, b"")
        self.streams = 0

    @web.middleware
    async def measure(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every request the gateway answers, by the version that ran (the console's own are not)."""
        if request.path.startswith(PREFIX):
            return await handler(request)
        started = time.perf_counter()
        response = await handler(request)
        self.recent.record(
            response.headers.get("x-slipway-function-version", "gateway"),
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Before the gateway's catch-all route, so these paths never reach the function."""
        router.add_get(PREFIX, self.redirect)
        router.add_get(PREFIX + "/", self.page)
        router.add_get(PREFIX + "/api/snapshot", self.snapshot)
        router.add_get(PREFIX + "/api/events", self.events)
        router.add_route("*", PREFIX + "/{tail:[\\s\\S]*}", not_found)

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=PAGE.read_bytes(),
            content_type="text/html",
            charset="utf-8",
            headers={"cache-control": "no-store"},
        )

    def _snapshot(self) -> bytes:
        at, body = self._cached
        now = time.monotonic()
        if now - at > FRESH_S or not body:
            data = snapshot.build(self.platform, self.recent, self._examples)
            body = orjson.dumps(data)
            self._cached = (now, body)
        return body

    async def snapshot(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self._snapshot(), content_type=JSON)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """The snapshot once a second, as server-sent events, until the viewer goes."""
        if self.streams >= MAX_STREAMS:
            return json_error(503, f"at most {MAX_STREAMS} console streams at once; close one")
        self.streams += 1
        try:
            response = web.StreamResponse(
                headers={"content-type": "text/event-stream", "cache-control": "no-store"}
            )
            await response.prepare(request)
            with contextlib.suppress(ConnectionError):
                while True:
                    await response.write(b"data: " + self._snapshot() + b"\n\n")
                    await asyncio.sleep(EVERY_S)
            return response
        finally:
            self.streams -= 1


async def not_found(request: web.Request) -> web.StreamResponse:
    return json_error(
        404,
        f"no console route {request.method} {request.path[:200]}; the console is {PREFIX}/",
    )
