"""The local platform: an HTTPS gateway in front of a pool of Lambda execution environments.

Each request becomes an HTTP API payload 2.0 event for the version its alias routes to
(weighted between two versions for a canary). State changes made by the CLI apply to the
next request: the state file is checked on every request, which costs one stat().

The gateway's own path (`RESERVED`, as API Gateway has its own) never reaches the function:
it is answered by what `slipway serve` attaches there (the console), or 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from infra import events
from infra.image.podman import Podman, local_engine
from infra.local import apigw
from infra.local.exceptions import InvokeError, Throttled
from infra.local.gateway.connections import Connections
from infra.local.gateway.reserved import RESERVED, Reserved, console_off
from infra.local.gateway.tls import ensure_certificate, server_context
from infra.local.runtime.environment import Environment
from infra.local.runtime.logs import FunctionLog
from infra.local.runtime.pool import Pool
from infra.local.runtime.report import Report
from infra.local.state.counts import Counts
from infra.local.state.store import State, StateStore, Version

DEFAULT_ALIAS = "live"


class LocalPlatform:
    max_request_bytes = apigw.MAX_REQUEST_BYTES  # API Gateway's payload limit
    max_request_label = "10 MB"

    def __init__(
        self,
        state_dir: Path,
        *,
        runtime_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8443,
        tls: bool = True,
        concurrency: int = 10,
        idle_s: float = 300.0,
        expose: tuple[str, ...] = (),
        log: Callable[[str], None] = print,
        integration_timeout_s: float = apigw.INTEGRATION_TIMEOUT_S,
        limits: apigw.Limits | None = None,
        console: Callable[[LocalPlatform], Reserved] | None = None,
    ) -> None:
        self.store = StateStore(state_dir)
        self.state_dir = state_dir
        self.host, self.port, self.tls = host, port, tls
        self.expose = expose
        self.log = log
        self.integration_timeout_s = integration_timeout_s
        self.limits = limits or apigw.Limits()
        self._runtime_dir = str(runtime_dir)
        self._state = State()
        self._stamp = (-1, -1, -1)
        self.function_log = FunctionLog(state_dir / "logs")
        self.pool = Pool(self._spawn, concurrency=concurrency, idle_s=idle_s, report=self._report)
        self.counts = Counts(state_dir)  # per-version errors, for `slipway release`'s watch
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self.connections: Connections | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Invocations, kept until done: one the gateway gave up on (504) runs on unawaited.
        self._invokes: set[asyncio.Task[tuple[str, bytes, str | None, Report]]] = set()
        self.cert: Path | None = None
        self._engine: Podman | None = None
        self.console = console  # makes what answers on RESERVED; None: it stays reserved, 404

    def _spawn(self, version: Version) -> Environment:
        return Environment(
            self.state().function,
            version,
            runtime_dir=self._runtime_dir,
            log=self.function_log,
            engine=self.engine() if version.image else None,
        )

    def engine(self) -> Podman:
        """Podman with storage in the state directory, for versions that are images."""
        if self._engine is None:
            self._engine = local_engine(self.state_dir)
        return self._engine

    def _report(self, report: Report) -> None:
        # Every REPORT line goes to the function log, as to CloudWatch Logs; cold starts are
        # also shown on the terminal.
        line = report.line()
        self.function_log(line)
        if report.init_ms is not None:
            self.log(line)

    def state(self) -> State:
        stamp = self.store.stamp()
        if stamp != self._stamp:
            self._state, self._stamp = self.store.load(), stamp
            self.pool.retire_unused(self._state.versions_in_use())
        return self._state

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    async def start(self) -> str:
        self.state()
        middlewares: list[Any] = [self._track]
        reserved = self.console(self) if self.console is not None else None
        if reserved is not None:
            middlewares.append(reserved.measure)
        app = web.Application(client_max_size=self.max_request_bytes, middlewares=middlewares)
        # The gateway's reserved path first: /_slipway/ is never routed to the function.
        if reserved is not None:
            reserved.add_routes(app.router)
        else:
            app.router.add_route("*", RESERVED + "{tail:(/[\\s\\S]*)?}", console_off)
        # [\s\S]: a path with an encoded newline (%0A) is the function's too, not aiohttp's 404.
        app.router.add_route("*", "/{tail:[\\s\\S]*}", self.handle)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0,
            keepalive_timeout=self.limits.idle_timeout_s, lingering_time=self.limits.linger_s,
            # aiohttp's own per-line limits, behind the whole head's (connections.py)
            max_line_size=apigw.MAX_HEADER_BYTES, max_field_size=apigw.MAX_HEADER_BYTES,
        )  # fmt: skip
        await self._runner.setup()
        context = None
        if self.tls:
            self.cert, key = ensure_certificate(self.state_dir)
            context = server_context(self.cert, key)
        # The socket is ours (its port is known without aiohttp's private attributes), and so
        # is the server: aiohttp's protocol runs inside the connection limits' wrapper.
        sock = _listen(self.host, self.port)
        self.port = sock.getsockname()[1]
        assert self._runner.server is not None
        self.connections = Connections(self._runner.server, self.limits)
        self._server = await asyncio.get_running_loop().create_server(
            self.connections, sock=sock, ssl=context, backlog=1024,
            ssl_handshake_timeout=self.limits.header_timeout_s if context else None,
        )  # fmt: skip
        self._tasks.append(asyncio.create_task(self.pool.reap_forever()))
        self._tasks.append(asyncio.create_task(self._flush_counts_forever()))
        return self.url

    async def _flush_counts_forever(self, every_s: float = 1.0) -> None:
        while True:
            self.flush()
            await asyncio.sleep(every_s)

    def flush(self) -> None:
        """What a `slipway release` or `status` in another process reads: the counts."""
        self.counts.flush()

    async def stop(self) -> None:
        server, self._server = self._server, None  # stop() may be called again: no-op
        if server is not None:
            server.close()  # no new connections
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()  # in-flight requests get its shutdown_timeout
        for invoke in list(self._invokes):  # what is left ran past its request
            invoke.cancel()
        await asyncio.gather(*self._invokes, return_exceptions=True)
        self.flush()
        await self.pool.close()
        if server is not None:
            with contextlib.suppress(TimeoutError):  # a TLS handshake holds it at the most
                await asyncio.wait_for(server.wait_closed(), self.limits.header_timeout_s)
        self.function_log.close()

    @web.middleware
    async def _track(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Tell the connection limits when a request's headers are in and when it is done."""
        transport, connections = request.transport, self.connections
        if transport is not None and connections is not None:
            connections.request_started(transport)
        try:
            return await handler(request)
        finally:
            if transport is not None and connections is not None:
                connections.request_done(transport)

    def route(self, path: str, state: State) -> tuple[str, str]:
        """(alias, path the function sees): /ALIAS/... for exposed aliases, else `live`."""
        first, _, rest = path.lstrip("/").partition("/")
        if first in self.expose and first != DEFAULT_ALIAS:
            return first, "/" + rest
        return DEFAULT_ALIAS, path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await asyncio.wait_for(request.read(), self.limits.body_timeout_s)
        except web.HTTPRequestEntityTooLarge:
            return send(
                apigw.gateway_error(
                    413, f"Request Entity Too Large: the limit is {self.max_request_label}"
                )
            )
        except TimeoutError:  # a slow body costs only its own connection: closed
            late = send(
                apigw.gateway_error(
                    408,
                    f"Request Timeout: the body took longer than {self.limits.body_timeout_s:g} s",
                )
            )
            late.force_close()
            return late
        return await self.forward(request, body)

    async def forward(self, request: web.Request, body: bytes) -> web.StreamResponse:
        """The request as an HTTP API event to the version its alias picks."""
        state = self.state()
        alias_name, path = self.route(request.path, state)
        alias = state.aliases.get(alias_name)
        if alias is None:
            return send(
                apigw.gateway_error(
                    503,
                    f"alias {alias_name!r} is not set: run `slipway publish --model NAME@VERSION` and `slipway alias set {alias_name} N`",
                )
            )
        number = (
            alias.canary
            if alias.canary is not None and random.random() < alias.weight
            else alias.version
        )
        version = state.versions[number]
        event = events.http_api_v2(
            request.method, path, body=body, headers=request.headers, query=request.query_string,
            source_ip=request.remote or "127.0.0.1", route_key="$default", domain=self.host,
        )  # fmt: skip
        request_id = event["requestContext"]["requestId"]
        extra = (
            ("apigw-requestid", request_id),
            ("x-slipway-function-version", str(number)),
            ("x-slipway-alias", alias_name),
        )
        task = asyncio.ensure_future(self.pool.invoke(version, orjson.dumps(event)))
        self._invokes.add(task)
        task.add_done_callback(self._invokes.discard)
        try:
            _, result, _, _ = await asyncio.wait_for(
                asyncio.shield(task), self.integration_timeout_s
            )
        except TimeoutError:
            task.add_done_callback(_consume)  # the function runs on; its answer is dropped
            self.counts.record(number, "the integration timed out (504)")
            return send(apigw.gateway_error(504, "Endpoint request timed out"), extra)
        except InvokeError as exc:
            self.log(f"{alias_name} -> {state.function}:{number}: {exc.error_type}: {exc.message}")
            if not isinstance(exc, Throttled):  # a throttle is not the version's error
                self.counts.record(number, f"{exc.error_type}: {exc.message}")
            return send(apigw.gateway_error(exc.status, f"{exc.error_type}: {exc.message}"), extra)
        response = apigw.from_lambda(result)
        self.counts.record(
            number, f"the function answered {response.status}" if response.status >= 500 else None
        )
        return send(response, extra)


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def send(response: apigw.HttpResponse, extra: tuple[tuple[str, str], ...] = ()) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(response.headers)
    for key, value in extra:
        headers[key] = value
    headers.pop("content-length", None)  # aiohttp sets it from the body
    return web.Response(status=response.status, body=response.body, headers=headers)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=1024)
