"""HTTP mode: the prediction function as an ASGI app, for Cloud Run and `slipway run-image`.

It translates an ASGI request into a Request for the dispatcher, as the Lambda event sources
do, and the Answer back; the model is loaded before the server listens, so a startup probe
never reaches a half-loaded model. The body is read up to the configured limit, and a body
past it is refused without holding more (a server's own 413, in the contract's order).

Logs are JSON lines on stdout that Cloud Logging parses: `severity`, and the request's trace
as `logging.googleapis.com/trace` (from `X-Cloud-Trace-Context` or W3C `traceparent`).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from functions.predict.config import METRICS, SERVICE, Settings
from functions.predict.dispatch import Dispatcher
from functions.predict.exceptions import HTTPError
from functions.predict.exchange import Request
from functions.predict.limits import body_too_large
from functions.predict.startup import load

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Cloud Run's container contract: what it sets in every instance.
PORT = "PORT"
DEFAULT_PORT = 8080
REVISION_VARS = {
    "service": "K_SERVICE",
    "revision": "K_REVISION",
    "configuration": "K_CONFIGURATION",
}
PROJECT = "GOOGLE_CLOUD_PROJECT"  # for the trace's full name; Cloud Run does not set it
TRACE_KEY = "logging.googleapis.com/trace"


class CloudLoggingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines with the field Cloud Logging reads the level from."""

    def serialize(self, log: Any) -> str:  # a dict, whatever the base class says
        log["severity"] = log.get("level", "INFO")
        return super().serialize(log)


def revision(env: Mapping[str, str]) -> dict[str, str]:
    """Cloud Run's names for this instance (empty outside Cloud Run)."""
    return {key: env[var] for key, var in REVISION_VARS.items() if env.get(var)}


def trace(headers: Mapping[str, str], project: str | None) -> str | None:
    """The request's trace id as Cloud Logging names it, or None."""
    raw = headers.get("x-cloud-trace-context", "")
    trace_id = raw.split("/", 1)[0].strip() if raw else ""
    if not trace_id:
        parts = headers.get("traceparent", "").split("-")  # version-traceid-spanid-flags
        trace_id = parts[1] if len(parts) == 4 else ""
    if not (0 < len(trace_id) <= 32 and all(c in "0123456789abcdefABCDEF" for c in trace_id)):
        return None
    return f"projects/{project}/traces/{trace_id}" if project else trace_id


class Disconnected(Exception):
    """Raise when the client went away before its body was read."""


class HttpFunction:
    """The ASGI app of HTTP mode around one dispatcher."""

    def __init__(self, dispatch: Dispatcher, env: Mapping[str, str]) -> None:
        self.dispatch = dispatch
        self.service = dispatch.service
        self.logger = dispatch.logger
        self.project = env.get(PROJECT) or None
        dispatch.keys = self._trace
        self._max_bytes = self.service.settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: the server answers 403 when the app does not accept
        # Header names arrive lower-case (ASGI); the last value of a repeated header wins.
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body, refused = await self._body(headers, receive)
        except Disconnected:
            return
        request = Request(
            scope["method"],
            scope["path"],
            headers,
            body,
            scope.get("query_string", b"").decode("latin-1"),
            None,
            refused,
        )
        answer = self.dispatch(request)
        raw = [(b"content-length", str(len(answer.body)).encode())]
        raw += [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        body = b"" if scope["method"] == "HEAD" else answer.body
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Nothing to start or stop: the model was loaded before the server was built.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _body(
        self, headers: Mapping[str, str], receive: Receive
    ) -> tuple[bytes, HTTPError | None]:
        """The body, or the 413 that refuses it without holding more than the limit allows."""
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            return b"", body_too_large(int(declared), self._max_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:
                # Chunked, or a Content-Length that lied: stop reading at the limit.
                return b"", body_too_large(None, self._max_bytes)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks), None

    def _trace(self, request: Request) -> dict[str, str]:
        found = trace(request.headers, self.project)
        return {TRACE_KEY: found} if found else {}


def create(env: Mapping[str, str]) -> HttpFunction:
    """Load the model named by env and build the HTTP-mode app (ModelInitError on failure).

    EMF metrics are CloudWatch's: off here unless SLIPWAY_METRICS asks for them; Cloud Run
    counts requests, latencies and errors itself.
    """
    env = {METRICS: "off", **env}
    settings = Settings.from_mapping(env)
    logger = Logger(
        service=env.get(SERVICE) or settings.service,
        logger_formatter=CloudLoggingFormatter(use_rfc3339=True),
    )
    logger.append_keys(**revision(env))
    return HttpFunction(load(env, settings=settings, logger=logger, health=revision(env)), env)


def from_environ() -> HttpFunction:
    """The server's factory (functions.predict.entrypoint): the app for this process."""
    return create(os.environ)
