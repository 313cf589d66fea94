"""The Lambda function object: routes events, logs, emits metrics.

Built once per execution environment (at init, from handler.py). POST /predict, GET /health,
GET /model, the Open Inference Protocol (/v2) and the JSON 404/405 are served by the direct
path (routes.py); only /docs and /openapi.json go to the FastAPI app through Mangum, which is
imported and built on their first request, so no other request pays for FastAPI.

Metrics are EMF lines from templates Powertools builds once per set of metric names (emf.py).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import orjson
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from functions.predict import contract, events, routes
from functions.predict.config import INIT_TYPE, Settings
from functions.predict.emf import EmfLines
from functions.predict.exceptions import HTTPError, ModelInitError, NonFiniteOutput
from functions.predict.oip import HEADER_LENGTH, Answer
from functions.predict.service import PredictionService, Reply

if TYPE_CHECKING:
    # The typed context Lambda passes (mangum ships it as a Protocol); never imported at run time.
    from mangum.types import LambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
UNITS = {
    "Latency": MetricUnit.Milliseconds.value,
    "BatchSize": MetricUnit.Count.value,
    "ClientErrors": MetricUnit.Count.value,
    "NonFiniteOutputs": MetricUnit.Count.value,
    "ServerErrors": MetricUnit.Count.value,
    "ColdStart": MetricUnit.Count.value,
}


class PredictFunction:
    def __init__(
        self,
        service: PredictionService,
        *,
        logger: Logger,
        metrics: Metrics | None,
        tracer: Any = None,
    ) -> None:
        self.service = service
        self.logger = logger
        self.metrics = metrics
        self.tracer = tracer
        self._asgi: Handler | None = None
        # The one-pass paths (service.predict_fast, Protocol.infer_fast): not under tracing,
        # whose subsegment wraps the general path.
        self._fast = tracer is None
        self._cold = True
        self._invocation: tuple[events.HttpRequest | None, Any, bool] = (None, None, True)
        self.routes = routes.Routes(service)
        self.emf: EmfLines | None = None
        if metrics is not None:
            metrics.set_default_dimensions(
                model=service.manifest.name, model_version=str(service.manifest.version)
            )
            self.emf = EmfLines(metrics, UNITS)
            # The usual sets, built now rather than on a request (others on first use).
            for names in (("Latency", "BatchSize"), ("Latency", "BatchSize", "ColdStart")):
                self.emf.template(names)

    def warm_up(self) -> None:
        """Answer the manifest's example request once, at init.

        A model that cannot answer its own example fails init instead of its first caller,
        onnxruntime's first-run allocations happen before traffic, and under SnapStart the
        snapshot holds a session that has already run.
        """
        example = self.service.manifest.example
        if not example:
            return
        reply = self.service.predict(orjson.dumps(example), "application/json")
        if reply.status != 200:
            raise ModelInitError(
                f"model {self.service.manifest.ref} refused its own example request: "
                f"{reply.body.decode()[:300]}"
            )

    def after_restore(self) -> None:
        """SnapStart: a restored environment is a new one; nothing unique may carry over."""
        self._cold = True
        random.seed()  # the snapshot froze the generator's state: every restore would repeat it

    @property
    def asgi(self) -> Handler:
        if self._asgi is None:
            from mangum import Mangum

            from functions.predict.app import create_app

            # lifespan="off": Mangum would otherwise run startup/shutdown on every invoke.
            self._asgi = Mangum(create_app(self.service, self.routes), lifespan="off")
        return self._asgi

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        start = time.perf_counter_ns()
        request = None
        if self._fast:
            # The usual requests, answered in one pass (HTTP API v2 and Function URL events
            # read as they are, others through events.parse); anything else, a refusal
            # included, takes the general path below, which says what is wrong.
            http = events.v2_http(event)
            if http is None:
                request = events.parse(event)
            try:
                fast = self._fast_event(event, http, request)
            except Exception:  # a bug there must not lose the request: the general path runs
                fast = None
            if fast is not None:
                self._invocation = (request, context, self._cold)
                result, batch = fast
                if self._cold or self.emf is None:
                    self._record(200, batch, time.perf_counter_ns() - start, None)
                else:
                    self.emf.emit_ok(_OK, (time.perf_counter_ns() - start) // 1000, batch)
                return result
        if request is None:
            request = events.parse(event)
        if request is None:
            # Not an HTTP request (SQS, S3, WebSocket, an authorizer…): a function error that
            # names the event, not a KeyError or Mangum's RuntimeError. Raises.
            events.require_http(event)
        self._invocation = (request, context, self._cold)  # for _keys, made only if logging
        status, batch, code = 500, 0, None
        try:
            with self._segment():
                if request is not None and request.method == "POST" and request.path == "/predict":
                    reply = self._predict(request)
                    status, batch, code = reply.status, reply.batch_size, reply.code
                    return contract.lambda_result(
                        request.kind, reply.status, reply.body, reply.headers
                    )
                if request is not None and not routes.needs_framework(request.path):
                    answer = self._direct(event, request)
                    status, batch, code = answer.status, answer.batch, answer.code
                    return contract.lambda_result(
                        request.kind,
                        answer.status,
                        answer.body,
                        answer.headers,
                        binary=answer.binary,
                    )
                response = self._via_asgi(event, context)
                status = int(response.get("statusCode", 200))
                return response
        finally:
            self._record(status, batch, time.perf_counter_ns() - start, code)

    def _fast_event(
        self,
        event: dict[str, Any],
        http: dict[str, Any] | None,
        request: events.HttpRequest | None,
    ) -> tuple[dict[str, Any], int] | None:
        """`_fast_answer` for a POST: a v2 event's fields from `http` (events.v2_http) and
        the event itself, any other event's from its parsed `request`."""
        if http is not None:
            if http.get("method") != "POST":
                return None
            return self._fast_answer(
                event,
                events.V2,
                http.get("path"),
                events.header(event, "content-type"),
                event.get("body"),
                bool(event.get("isBase64Encoded")),
            )
        if request is None or request.method != "POST":
            return None
        return self._fast_answer(
            event, request.kind, request.path, request.content_type, request.body, request.is_base64
        )

    def _fast_answer(
        self,
        event: dict[str, Any],
        kind: str,
        path: Any,
        content_type: str | None,
        body: Any,
        is_base64: bool,
    ) -> tuple[dict[str, Any], int] | None:
        """(result, batch) of a POST answered in one pass, or None for the general path:
        POST /predict with JSON (service.predict_fast), or an OIP binary infer
        (Protocol.infer_fast) on its plain path."""
        if path == "/predict":
            if (
                type(body) is not str
                or is_base64
                or (content_type is not None and content_type != contract.JSON)
            ):
                return None
            done = self.service.predict_fast(body.encode())
            if done is None:
                return None
            data, batch = done
            return contract.lambda_result(kind, 200, data, self.service.model_headers), batch
        oip = self.routes.oip
        if type(path) is not str or not oip.fast_path(path):
            return None
        length = events.header(event, HEADER_LENGTH)
        if length is None or body is None:
            return None
        raw = contract.read_body(
            body,
            content_type,
            is_base64=is_base64,
            max_bytes=self.service.settings.max_body_bytes,
            binary=True,
        )
        answer = oip.infer_fast(raw, length)
        if answer is None:
            return None
        result = contract.lambda_result(
            kind, 200, answer.body, answer.headers, binary=answer.binary
        )
        return result, answer.batch

    @property
    def _keys(self) -> dict[str, Any]:
        """Added to each log line of this invocation (made only when a line is written: most
        invocations write none, so cheaper than Logger.append_keys on every one)."""
        request, context, cold = self._invocation
        return {
            "request_id": request.request_id if request else None,
            "function_request_id": getattr(context, "aws_request_id", None),
            "cold_start": cold,
        }

    def _via_asgi(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        refused = contract.refuse_before_app(event, self.service.model_headers)
        if refused is not None:
            return refused
        return self.asgi(event, context)

    def _direct(self, event: dict[str, Any], request: events.HttpRequest) -> Answer:
        """Every route but POST /predict and the framework's, without the framework."""
        method, path = request.method, request.path
        oip = self.routes.oip
        if not routes.is_oip(path) or not oip.is_infer(method, path):
            if request.is_base64 and request.body:
                try:  # a body that is not base64 is refused even where the route ignores it
                    contract.decode_base64(request.body)
                except HTTPError as err:
                    return self.routes.error(err)
            return self.routes.answer(method, path)
        try:
            raw = contract.read_body(
                request.body,
                request.content_type,
                is_base64=request.is_base64,
                max_bytes=self.service.settings.max_body_bytes,
                binary=True,
            )
            answer = self.routes.answer(method, path, raw, events.header(event, HEADER_LENGTH))
        except HTTPError as err:
            answer = oip.error(err)
        except Exception:
            self.logger.exception("inference failed", extra=self._keys)
            answer = oip.error(contract.internal_error())
        if answer.status >= 400:
            self.logger.info(
                "request refused",
                extra={**self._keys, "status": answer.status, "error": answer.body.decode()},
            )
        return answer

    def _predict(self, request: events.HttpRequest) -> Reply:
        try:
            reply = self.service.predict(
                request.body, request.content_type, request.is_base64, fast=not self._fast
            )
        except Exception:
            # A bug or an onnxruntime fault, not the client's mistake: answer 500, never crash
            # the environment (that would turn into a 502 with no body).
            self.logger.exception("prediction failed", extra=self._keys)
            err = contract.internal_error()
            return Reply(err.status, contract.error_body(err), self.service.model_headers)
        if reply.status >= 400:
            # The body's message is bounded (contract.clip): so is this line.
            self.logger.info(
                "request refused",
                extra={**self._keys, "status": reply.status, "error": reply.body.decode()},
            )
        return reply

    def _segment(self) -> AbstractContextManager[Any]:
        if self.tracer is None:
            return _NO_SEGMENT
        segment: AbstractContextManager[Any] = self.tracer.provider.in_subsegment("## predict")
        return segment

    def _record(self, status: int, batch: int, elapsed_ns: int, code: str | None) -> None:
        cold, self._cold = self._cold, False
        emf = self.emf
        if emf is None:
            return
        if batch and status < 400 and not cold:  # nearly every invoke: one f-string
            emf.emit_ok(_OK, elapsed_ns // 1000, batch)
            return
        names, values = ["Latency"], [elapsed_ns / 1e6]
        if batch:
            names.append("BatchSize")
            values.append(float(batch))
        if 400 <= status < 500:
            names.append("ClientErrors")
            values.append(1.0)
            if code == NonFiniteOutput.code:  # the model's limits, worth an alarm of its own
                names.append("NonFiniteOutputs")
                values.append(1.0)
        elif status >= 500:
            names.append("ServerErrors")
            values.append(1.0)
        if cold:
            names.append("ColdStart")
            values.append(1.0)
        emf.emit(tuple(names), values)


_OK = ("Latency", "BatchSize")
_NO_SEGMENT = nullcontext()  # reusable: one object for every invoke without tracing


def build(
    env: Mapping[str, str],
    *,
    s3_client: Any = None,
    settings: Settings | None = None,
    logger: Logger | None = None,
) -> PredictFunction:
    """Load the model named by `env` and build the function; raise ModelInitError on failure."""
    settings = settings or Settings.from_mapping(env)
    logger = logger or Logger(service=settings.service)
    start = time.perf_counter()
    try:
        service = PredictionService.from_settings(settings, s3_client=s3_client)
    except Exception as exc:
        logger.error("init failed: the model cannot be served", extra={"reason": str(exc)})
        raise
    manifest = service.manifest
    logger.append_keys(model=manifest.name, model_version=manifest.version)
    logger.info(
        "model loaded",
        extra={
            "sha256": manifest.sha256,
            "load_ms": round((time.perf_counter() - start) * 1000, 2),
        },
    )
    metrics = (
        Metrics(namespace=settings.namespace, service=settings.service)
        if settings.metrics
        else None
    )
    tracer = None
    if settings.tracing:
        from aws_lambda_powertools import Tracer

        tracer = Tracer(service=settings.service)
    function = PredictFunction(service, logger=logger, metrics=metrics, tracer=tracer)
    function.warm_up()
    if env.get(INIT_TYPE) == "snap-start":
        from snapshot_restore_py import register_after_restore  # shipped with Lambda's runtime

        register_after_restore(function.after_restore)
    return function
