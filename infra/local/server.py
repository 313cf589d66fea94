"""The local platform: an HTTPS gateway in front of a pool of Lambda execution environments.

Each request becomes an HTTP API payload 2.0 event for the version its alias routes to
(weighted between two versions for a canary). State changes made by the CLI apply to the
next request: the state file is checked on every request, which costs one stat().
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from infra import events
from infra.local import apigw
from infra.local.environment import Environment, Report
from infra.local.exceptions import InvokeError, Throttled
from infra.local.invocations import Counts
from infra.local.pool import Pool
from infra.local.state import State, StateStore, Version
from infra.local.tls import ensure_certificate, server_context

DEFAULT_ALIAS = "live"


class LocalPlatform:
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
    ) -> None:
        self.store = StateStore(state_dir)
        self.state_dir = state_dir
        self.host, self.port, self.tls = host, port, tls
        self.expose = expose
        self.log = log
        self.integration_timeout_s = integration_timeout_s
        self._runtime_dir = str(runtime_dir)
        self._state = State()
        self._stamp = (-1, -1, -1)
        self._function_log = _function_log(state_dir / "logs")
        self.pool = Pool(self._spawn, concurrency=concurrency, idle_s=idle_s, report=self._report)
        self.counts = Counts(state_dir)  # per-version errors, for `slipway release`'s watch
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.cert: Path | None = None

    def _spawn(self, version: Version) -> Environment:
        return Environment(
            self.state().function, version, runtime_dir=self._runtime_dir, log=self._function_log
        )

    def _report(self, report: Report) -> None:
        # Every REPORT line goes to the function log, as to CloudWatch Logs; cold starts are
        # also shown on the terminal.
        line = report.line()
        self._function_log(line)
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
        app = web.Application(client_max_size=apigw.MAX_REQUEST_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        context = None
        if self.tls:
            self.cert, key = ensure_certificate(self.state_dir)
            context = server_context(self.cert, key)
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context, backlog=1024)
        await site.start()
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks.append(asyncio.create_task(self.pool.reap_forever()))
        self._tasks.append(asyncio.create_task(self._flush_counts_forever()))
        return self.url

    async def _flush_counts_forever(self, every_s: float = 1.0) -> None:
        while True:
            self.counts.flush()
            await asyncio.sleep(every_s)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.counts.flush()
        await self.pool.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def route(self, path: str, state: State) -> tuple[str, str]:
        """(alias, path the function sees): /ALIAS/... for exposed aliases, else `live`."""
        first, _, rest = path.lstrip("/").partition("/")
        if first in self.expose and first != DEFAULT_ALIAS:
            return first, "/" + rest
        return DEFAULT_ALIAS, path

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _send(apigw.gateway_error(413, "Request Entity Too Large: the limit is 10 MB"))
        state = self.state()
        alias_name, path = self.route(request.path, state)
        alias = state.aliases.get(alias_name)
        if alias is None:
            return _send(
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
        try:
            _, result, _, _ = await asyncio.wait_for(
                asyncio.shield(task), self.integration_timeout_s
            )
        except TimeoutError:
            task.add_done_callback(_consume)  # the function runs on; its answer is dropped
            self.counts.record(number, "the integration timed out (504)")
            return _send(apigw.gateway_error(504, "Endpoint request timed out"), extra)
        except InvokeError as exc:
            self.log(f"{alias_name} -> {state.function}:{number}: {exc.error_type}: {exc.message}")
            if not isinstance(exc, Throttled):  # a throttle is not the version's error
                self.counts.record(number, f"{exc.error_type}: {exc.message}")
            return _send(apigw.gateway_error(exc.status, f"{exc.error_type}: {exc.message}"), extra)
        response = apigw.from_lambda(result)
        self.counts.record(
            number, f"the function answered {response.status}" if response.status >= 500 else None
        )
        return _send(response, extra)


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _send(response: apigw.HttpResponse, extra: tuple[tuple[str, str], ...] = ()) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict(response.headers)
    for key, value in extra:
        headers[key] = value
    headers.pop("content-length", None)  # aiohttp sets it from the body
    return web.Response(status=response.status, body=response.body, headers=headers)


def _function_log(folder: Path) -> Callable[[str], None]:
    """Function output goes to a file, as it would go to CloudWatch Logs."""
    folder.mkdir(parents=True, exist_ok=True)
    fh = open(folder / "functions.log", "a", buffering=1)  # noqa: SIM115 - lives with the server

    def write(line: str) -> None:
        fh.write(line + "\n")

    return write


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
