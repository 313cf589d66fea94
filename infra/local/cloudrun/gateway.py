"""`slipway serve --platform cloudrun`: Cloud Run's front end and autoscaler on this machine.

The same gateway as the local Lambda platform (TLS, connection limits, the state file, the
per-version counts a release watches), but a request is proxied over HTTP to an instance of
the revision, as Cloud Run's front end does, instead of becoming an API Gateway event:

- `/…` goes to the traffic split of alias `live` (revisions by percent, as the service URL);
- `/rev-00003/…` goes to revision 3 only, whatever its traffic (Cloud Run's tag URL
  `rev-00003---SERVICE-….run.app`, which `slipway release` smoke-tests);
- 429 when no instance frees up within the pending window, 503 when an instance fails to
  start or its connection breaks, 504 past the request timeout, in JSON.

Instances (`instances.py`) are written to `instances.json` about once a second with the
counts, so `slipway status --target local-cloudrun` shows scaling from another process.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from infra.local import apigw
from infra.local.cloudrun.containers import PodmanLauncher, revision_name, tag
from infra.local.cloudrun.instances import MAX_PENDING_S, Instance, InstanceFailed, Instances
from infra.local.exceptions import Throttled
from infra.local.gateway.server import DEFAULT_ALIAS, LocalPlatform, send
from infra.local.state.store import State
from model_store.files import write_json_atomic

INSTANCES_FILE = "instances.json"
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # Cloud Run's HTTP/1 request limit
DEFAULT_CONCURRENCY = 80  # Cloud Run's containerConcurrency default
DEFAULT_MAX_INSTANCES = 100
DEFAULT_TIMEOUT_S = 300.0  # Cloud Run's request timeout default
DEFAULT_CPUS = 1.0
# Hop-by-hop headers (RFC 9110 7.6.1) stay on their own connection.
HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)


class CloudRunGateway(LocalPlatform):
    max_request_bytes = MAX_REQUEST_BYTES
    max_request_label = "32 MiB"

    def __init__(
        self,
        state_dir: Path,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_instances: int = DEFAULT_MAX_INSTANCES,
        min_instances: int = 0,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        cpus: float | None = DEFAULT_CPUS,
        idle_s: float = 300.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            state_dir, runtime_dir=state_dir, idle_s=idle_s, integration_timeout_s=timeout_s,
            console=None, **kwargs,
        )  # fmt: skip
        self.timeout_s = timeout_s
        self.launcher = PodmanLauncher(
            self.engine, service=self.state().function, cpus=cpus, log=self.function_log
        )
        self.pool = Instances(  # type: ignore[assignment]
            self.launcher,
            concurrency=concurrency,
            max_instances=max_instances,
            min_instances=min_instances,
            idle_s=idle_s,
            pending_s=min(MAX_PENDING_S, timeout_s),
            lookup=lambda n: self.state().versions.get(n),
            before_stop=self._let_go,
            log=self.log,
        )
        self.instances: Instances = self.pool  # type: ignore[assignment]
        # One client session per instance: its kept-alive connections close with the instance.
        self._sessions: dict[str, Any] = {}

    async def start(self) -> str:

        # A gateway killed before left its containers running: this storage is ours alone.
        engine = self.engine()
        for name in engine.containers("slipway-cr-"):
            engine.remove(name)
        return await super().start()

    def _session(self, instance: Instance) -> Any:
        found = self._sessions.get(instance.name)
        if found is None:
            found = self._sessions[instance.name] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
            )
        return found

    async def _let_go(self, instance: Instance) -> None:
        session = self._sessions.pop(instance.name, None)
        if session is not None:
            await session.close()

    async def stop(self) -> None:
        await super().stop()
        for session in list(self._sessions.values()):
            await session.close()
        self._sessions.clear()
        self.flush()

    def flush(self) -> None:
        super().flush()
        write_json_atomic(self.state_dir / INSTANCES_FILE, {
            "pid": os.getpid(), "updated": time.time(), "concurrency": self.instances.concurrency,
            "max_instances": self.instances.max_instances,
            "min_instances": self.instances.min_instances,
            "revisions": self.instances.snapshot(),
        })  # fmt: skip

    async def _send_upstream(
        self, instance: Instance, request: web.Request, url: URL, body: bytes
    ) -> tuple[int, Any, bytes]:
        async with self._session(instance).request(
            request.method, url, data=body, headers=_upstream(request), allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
        ) as upstream:  # fmt: skip
            return upstream.status, upstream.headers, await upstream.read()

    def pick(self, target: str, state: State) -> tuple[str, int | None, str]:
        """(route, revision, target the instance gets) for a request target as the client sent
        it (path and query, still percent-encoded): a tag route, else live's split."""
        path, sep, query = target.partition("?")
        first, _, rest = path.lstrip("/").partition("/")
        if first.startswith("rev-") and first[4:].isdigit():
            number = int(first[4:])
            return first, number if number in state.versions else None, "/" + rest + sep + query
        alias = state.aliases.get(DEFAULT_ALIAS)
        if alias is None:
            return DEFAULT_ALIAS, None, target
        number = (
            alias.canary
            if alias.canary is not None and random.random() < alias.weight
            else alias.version
        )
        return DEFAULT_ALIAS, number, target

    async def forward(self, request: web.Request, body: bytes) -> web.StreamResponse:
        state = self.state()
        # The raw target: an encoded character (%2F, %0A) reaches the instance as it was sent.
        route, number, path = self.pick(request.raw_path, state)
        if number is None:
            what = (
                f"no revision has tag {route}"
                if route != DEFAULT_ALIAS
                else "alias live is not set: run `slipway alias set live N --target local-cloudrun`"
            )
            return send(apigw.gateway_error(404 if route != DEFAULT_ALIAS else 503, what))
        version = state.versions[number]
        name = revision_name(state.function, number)
        extra = (("x-slipway-revision", name), ("x-slipway-route", route))
        try:
            instance = await self.instances.acquire(version)
        except Throttled as exc:  # not the revision's error, as on Cloud Run
            return send(apigw.gateway_error(429, f"Rate exceeded: {exc.message}"), extra)
        except InstanceFailed as exc:
            self.counts.record(number, exc.message)
            return send(apigw.gateway_error(503, f"Service Unavailable: {exc.message}"), extra)
        broken = False
        url = URL(instance.url + path, encoded=True)
        try:
            try:
                status, headers, payload = await self._send_upstream(instance, request, url, body)
            except aiohttp.ServerDisconnectedError:
                # A kept-alive connection the instance closed as we reused it: once more, on
                # a new connection (as Envoy retries a reset before any response byte).
                status, headers, payload = await self._send_upstream(instance, request, url, body)
        except TimeoutError:
            self.counts.record(number, f"the request ran past the {self.timeout_s:g} s timeout")
            return send(
                apigw.gateway_error(
                    504, f"upstream request timeout: over {self.timeout_s:g} s ({name})"
                ),
                extra,
            )
        except aiohttp.ClientError as exc:
            broken = True
            message = f"the connection to instance {instance.id} of {name} failed: {exc!r}"[:300]
            self.counts.record(number, message)
            return send(apigw.gateway_error(503, f"Service Unavailable: {message}"), extra)
        finally:
            await self.instances.release(instance, broken=broken)
        self.counts.record(number, f"the revision answered {status}" if status >= 500 else None)
        out: CIMultiDict[str] = CIMultiDict(
            (k, v) for k, v in headers.items() if k.lower() not in HOP
        )
        for key, value in extra:
            out[key] = value
        return web.Response(status=status, body=payload, headers=out)


def _upstream(request: web.Request) -> CIMultiDict[str]:
    """The client's headers and what Cloud Run's front end adds (X-Forwarded-*, trace)."""
    headers: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in request.headers.items() if k.lower() not in HOP
    )
    headers["Host"] = request.host
    forwarded = request.headers.get("X-Forwarded-For")
    client = request.remote or "127.0.0.1"
    headers["X-Forwarded-For"] = f"{forwarded}, {client}" if forwarded else client
    headers["X-Forwarded-Proto"] = request.scheme
    if "traceparent" not in headers:
        trace, span = os.urandom(16).hex(), os.urandom(8).hex()
        headers["traceparent"] = f"00-{trace}-{span}-01"
        headers["X-Cloud-Trace-Context"] = f"{trace}/{int(span, 16)};o=1"
    return headers


def read_instances(root: Path, fresh_s: float = 5.0) -> dict[str, Any] | None:
    """What a running `slipway serve --platform cloudrun` last wrote, or None when stale."""
    try:
        data: dict[str, Any] = json.loads((root / INSTANCES_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if time.time() - float(data.get("updated", 0)) < fresh_s else None


__all__ = ["CloudRunGateway", "read_instances", "tag"]
