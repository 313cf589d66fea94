"""The Lambda Runtime API (2018-06-01) that one execution environment's runtime client polls.

Documented protocol: GET invocation/next (long poll) gives the event with Lambda-Runtime-*
headers; POST invocation/{id}/response or /error ends it; POST init/error reports a failed
init. The real awslambdaric speaks it; this module only serves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
# Lambda's synchronous response limit (6 MB, as its error message counts it); aiohttp's own
# default of 1 MiB refused a function's larger answers, e.g. GET /docs/assets/*.js.
MAX_RESPONSE_BYTES = 6291556


@dataclass
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str
    # Set to ("response", body, None) or ("error", body, error type) by the runtime.
    outcome: asyncio.Future[tuple[str, bytes, str | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class RuntimeAPI:
    """Queue of invocations for one environment, and the HTTP endpoints its runtime calls."""

    def __init__(
        self, on_first_poll: Callable[[], None], on_init_error: Callable[[bytes, str | None], None]
    ) -> None:
        self._queue: asyncio.Queue[Invocation] = asyncio.Queue(maxsize=1)
        self._inflight: dict[str, Invocation] = {}
        self._on_first_poll = on_first_poll
        self._on_init_error = on_init_error
        self._polled = False

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_RESPONSE_BYTES)
        app.router.add_get(f"{PREFIX}/invocation/next", self.next)
        app.router.add_post(f"{PREFIX}/invocation/{{request_id}}/response", self.response)
        app.router.add_post(f"{PREFIX}/invocation/{{request_id}}/error", self.error)
        app.router.add_post(f"{PREFIX}/init/error", self.init_error)
        return app

    async def submit(self, invocation: Invocation) -> None:
        self._inflight[invocation.request_id] = invocation
        await self._queue.put(invocation)

    def forget(self, request_id: str) -> None:
        self._inflight.pop(request_id, None)

    async def next(self, request: web.Request) -> web.Response:
        if not self._polled:
            self._polled = True
            self._on_first_poll()  # the runtime finished init and asks for work
        inv = await self._queue.get()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
            "Lambda-Runtime-Trace-Id": inv.trace_id,
            "Content-Type": "application/json",
        }
        return web.Response(body=inv.payload, headers=headers)

    async def response(self, request: web.Request) -> web.Response:
        return await self._finish(request, "response")

    async def error(self, request: web.Request) -> web.Response:
        return await self._finish(request, "error")

    async def _finish(self, request: web.Request, kind: str) -> web.Response:
        inv = self._inflight.pop(request.match_info["request_id"], None)
        body = await request.read()
        if inv is None:
            return _error(400, "InvalidRequestID", "no invocation in flight with this id")
        if not inv.outcome.done():
            inv.outcome.set_result((kind, body, request.headers.get(ERROR_TYPE)))
        return _accepted()

    async def init_error(self, request: web.Request) -> web.Response:
        self._on_init_error(await request.read(), request.headers.get(ERROR_TYPE))
        return _accepted()


def _accepted() -> web.Response:
    return web.json_response({"status": "OK"}, status=202)


def _error(status: int, error_type: str, message: str) -> web.Response:
    body: dict[str, Any] = {"errorType": error_type, "errorMessage": message}
    return web.json_response(body, status=status)
