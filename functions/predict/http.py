"""HTTP mode: the prediction function as an ASGI app, for Cloud Run and `slipway run-image`.

The same contract as on Lambda: POST /predict goes straight to the service (as the Lambda
direct path does); GET /health (with Cloud Run's revision), GET /model, the Open Inference
Protocol under /v2 and the JSON 404/405 answer from routes.py; only /docs and /openapi.json go
to the same FastAPI app, built on first use. The model is loaded before the
server listens, so a startup probe never reaches a half-loaded model.

Logs are JSON lines on stdout that Cloud Logging parses: `severity`, and the request's trace
as `logging.googleapis.com/trace` (from `X-Cloud-Trace-Context` or W3C `traceparent`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from functions.predict import contract, routes
from functions.predict.exceptions import HTTPError
from functions.predict.oip import HEADER_LENGTH
from functions.predict.service import PredictionService, Reply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

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
    """The ASGI app of HTTP mode around one loaded PredictionService."""

    def __init__(self, service: PredictionService, logger: Any, env: Mapping[str, str]) -> None:
        self.service = service
        self.logger = logger
        self.project = env.get(PROJECT) or None
        self.routes = routes.Routes(service, revision(env))
        self._max_bytes = service.settings.max_body_bytes
        self._app: ASGIApp | None = None

    @property
    def app(self) -> ASGIApp:
        if self._app is None:
            from functions.predict.app import create_app  # off the start-up path

            self._app = create_app(self.service, self.routes)
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return  # websockets: the server answers 403 when the app does not accept
        method, path = scope["method"], scope["path"]
        if path == "/predict" and method == "POST":
            await self._predict(scope, receive, send)
        elif routes.needs_framework(path):
            await self.app(scope, receive, send)
        elif self.routes.oip.is_infer(method, path) and routes.is_oip(path):
            await self._infer(scope, receive, send)
        else:
            answer = self.routes.answer(method, path)
            await _answer(send, answer.status, answer.body, answer.headers, method == "HEAD")

    async def _infer(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        oip = self.routes.oip
        try:
            body = await self._body(headers, receive, binary=True)
            answer = self.routes.answer("POST", scope["path"], body, headers.get(HEADER_LENGTH))
        except Disconnected:
            return
        except HTTPError as err:
            answer = oip.error(err)
        except Exception:
            self.logger.exception("inference failed", extra=self._trace(headers))
            answer = oip.error(contract.internal_error())
        self._refused(headers, answer.status, answer.body)
        await _answer(send, answer.status, answer.body, answer.headers)

    def _refused(self, headers: Mapping[str, str], status: int, body: bytes) -> None:
        """A 4xx/5xx answer, logged once (bounded: the contract clips the body's message)."""
        if status >= 400:
            self.logger.info(
                "request refused",
                extra={**self._trace(headers), "status": status, "error": body.decode()},
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Nothing to start or stop: the model was loaded before the server was built.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        try:
            body = await self._body(headers, receive)
        except Disconnected:
            return
        except HTTPError as err:
            reply = self.service.error(err)
        else:
            try:
                reply = self.service.predict(body, headers.get("content-type"))
            except Exception:
                # A bug or an onnxruntime fault: a 500 with the contract's body, logged.
                self.logger.exception("prediction failed", extra=self._trace(headers))
                failed = contract.internal_error()
                reply = Reply(
                    failed.status, contract.error_body(failed), self.service.model_headers
                )
        self._refused(headers, reply.status, reply.body)
        await _answer(send, reply.status, reply.body, reply.headers)

    async def _body(
        self, headers: Mapping[str, str], receive: Receive, *, binary: bool = False
    ) -> bytes:
        """The body, or the 413 that refuses it without holding more than the limit allows."""
        # The contract's order (read_body): Content-Type before size, as on Lambda.
        contract.check_content_type(headers.get("content-type"), binary=binary)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit():
            contract.check_body_size(int(declared), self._max_bytes)
        cap = self._max_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                # Chunked, or a Content-Length that lied: stop reading at the limit.
                raise contract.body_too_large(None, self._max_bytes)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _trace(self, headers: Mapping[str, str]) -> dict[str, str]:
        found = trace(headers, self.project)
        return {TRACE_KEY: found} if found else {}


def _headers(scope: Scope) -> dict[str, str]:
    # Header names arrive lower-case (ASGI); the last value of a repeated header wins.
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def _answer(
    send: Send, status: int, body: bytes, headers: Mapping[str, str], head: bool = False
) -> None:
    raw = [(k.encode(), v.encode()) for k, v in contract.json_headers(body, headers).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})


def create(env: Mapping[str, str]) -> HttpFunction:
    """Load the model named by env and build the HTTP-mode app (ModelInitError on failure).

    EMF metrics are CloudWatch's: off here unless SLIPWAY_METRICS asks for them; Cloud Run
    counts requests, latencies and errors itself.
    """
    from aws_lambda_powertools import Logger

    from functions.predict.config import METRICS, SERVICE, Settings
    from functions.predict.runtime import build

    env = {METRICS: "off", **env}
    settings = Settings.from_mapping(env)
    logger = Logger(
        service=env.get(SERVICE) or settings.service,
        logger_formatter=CloudLoggingFormatter(use_rfc3339=True),
    )
    logger.append_keys(**revision(env))
    function = build(env, settings=settings, logger=logger)
    return HttpFunction(function.service, logger, env)


def from_environ() -> HttpFunction:
    """The server's factory (functions.predict.entrypoint): the app for this process."""
    import os

    return create(os.environ)
