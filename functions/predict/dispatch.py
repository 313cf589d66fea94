"""The one dispatcher: every request of every front end, from a Request to an Answer.

    POST /predict                       the model's prediction (body forms: forms/)
    GET  /health, GET /model            liveness with the model, the served manifest
    /v2/...                             the Open Inference Protocol (oip/)
    GET  /openapi.json, /docs           the API's document and its page (docs.py)
    anything else                       the JSON 404 or 405

It decides the route, reads the body in the contract's order (body.read), runs the model,
encodes the answer, maps every error to its status and body, and logs each refusal and
failure once. The front ends (adapters/: Lambda's event sources and the ASGI app; the Flask
app) only translate their request into a Request and the Answer back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from functions.predict import limits
from functions.predict.body import JSON, read
from functions.predict.errors import error_body, framework_error, internal_error
from functions.predict.exceptions import HTTPError, InvalidInput
from functions.predict.exchange import Answer, Request
from functions.predict.forms import decode
from functions.predict.forms.items import check_media
from functions.predict.forms.items import decode as items_of
from functions.predict.limits import check_response_size
from functions.predict.oip import HEADER_LENGTH
from functions.predict.oip.routes import Protocol, is_oip
from functions.predict.oip.writer import NULL
from functions.predict.service import PredictionService

_DUMPS = orjson.OPT_SERIALIZE_NUMPY
DOCS_ASSETS = "/docs/assets/"
# The path of each route other than /v2's -> its one method.
METHODS = {
    "/predict": "POST",
    "/health": "GET",
    "/model": "GET",
    "/openapi.json": "GET",
    "/docs": "GET",
}
_GET = ("GET", "HEAD")
LogKeys = Callable[[Request], Mapping[str, Any]]


def _no_keys(request: Request) -> Mapping[str, Any]:
    return {"request_id": request.request_id}


class Dispatcher:
    """The routes of one loaded model; every constant answer is built once, here."""

    def __init__(
        self,
        service: PredictionService,
        logger: Any,
        *,
        keys: LogKeys = _no_keys,
        health: Mapping[str, str] | None = None,
    ) -> None:
        self.service = service
        self.logger = logger
        self.keys = keys  # what each log line of a request carries (the front end's ids)
        self.oip = Protocol(service)
        settings = service.settings
        self._max_bytes, self._max_batch = settings.max_body_bytes, settings.max_batch
        self._inputs = service.inputs
        self._model_id = service.model_id
        self.headers = {**service.model_headers, "content-type": JSON}
        self._health = Answer(
            200, orjson.dumps({**service.health(), **(health or {})}), self.headers
        )
        self._model = Answer(200, orjson.dumps(service.model_info()), self.headers)
        self._document: bytes | None = None
        self._infer_paths = self.oip.infer_paths
        self._processing = service.processing
        self._media = check_media(service.processing.kind) if service.processing else None

    def __call__(self, request: Request) -> Answer:
        method, path = request.method, request.path
        try:
            if method != "POST":
                answer = self._route(request)
            elif path == "/predict":  # the usual request first
                answer = self._predict(request)
            elif path in self._infer_paths or (is_oip(path) and self.oip.reads_body(method, path)):
                answer = self._infer(request)
            else:
                answer = self._route(request)
        except Exception as exc:
            oip = is_oip(path)
            err: HTTPError | None = self.service.refusal(exc)  # onnxruntime refusing the input
            if err is None:
                # A bug or an onnxruntime fault, not the client's mistake: answer 500, never
                # crash the environment (on Lambda that would be a 502 with no body).
                what = "inference" if oip else "prediction" if path == "/predict" else "request"
                self.logger.exception(f"{what} failed", extra=self.keys(request))
                err = internal_error()
            answer = self.oip.error(err) if oip else self.error(err)
        if answer.status >= 400:
            # The body's message is bounded (messages.clip): so is this line.
            self.logger.info(
                "request refused",
                extra={
                    **self.keys(request),
                    "status": answer.status,
                    "error": answer.body.decode(),
                },
            )
        return answer

    def error(self, err: HTTPError, extra: Mapping[str, str] | None = None) -> Answer:
        """The prediction API's error answer (the protocol's is `oip.error`)."""
        headers = {**self.headers, **extra} if extra else self.headers
        return Answer(err.status, error_body(err), headers, code=err.code)

    # -- POST /predict ------------------------------------------------------------------------
    def _predict(self, request: Request) -> Answer:
        if self._processing is not None:
            return self._processed(request)
        try:
            raw = read(request, self._max_bytes)
            feeds, batch = decode(raw, self._inputs, self._max_batch)
            results = self.service.model.run(feeds)  # its refusals: __call__ (service.refusal)
            data = orjson.dumps(
                {"outputs": self.service.outputs(results), "model": self._model_id},
                option=_DUMPS,
            )
            if NULL in data:  # orjson writes NaN and ±inf as null: look at the arrays
                self.service.check_finite(results)
            if len(data) > limits.MAX_RESPONSE_BYTES:
                check_response_size(len(data), batch)
        except HTTPError as err:
            return self.error(err)
        return Answer(200, data, self.headers, False, batch)

    def _processed(self, request: Request) -> Answer:
        """POST /predict to a model with processing: images or texts in, the task's answer."""
        processing = self._processing
        assert processing is not None
        try:
            raw = read(request, self._max_bytes, media=self._media)
            items = items_of(
                raw,
                request.headers.get("content-type"),
                processing.kind,
                processing.oip_input,
                self._max_batch,
            )
            feeds = processing.input.feeds(items.values, items.params)
            results = self.service.model.run(feeds)  # its refusals: __call__
            as_tensors = items.params.get("raw", False)
            if type(as_tensors) is not bool:
                raise InvalidInput('parameters "raw" must be true or false')
            if as_tensors:
                answer: Any = {"outputs": self.service.outputs(results), "model": self._model_id}
            else:
                answers = processing.output.answer(results, feeds, items.params)
                answer = processing.body(answers, items.single)
            data = orjson.dumps(answer, option=_DUMPS)
            if NULL in data:
                self.service.check_finite(results)
            batch = len(items.values)
            check_response_size(len(data), batch)
        except HTTPError as err:
            return self.error(err)
        return Answer(200, data, self.headers, False, batch)

    # -- POST /v2/.../infer ---------------------------------------------------------------------
    def _infer(self, request: Request) -> Answer:
        path = request.path
        try:
            raw = read(request, self._max_bytes, binary=True)
            if path in self._infer_paths:  # the usual spelling: no routing
                return self.oip.infer(raw, request.headers.get(HEADER_LENGTH))
        except HTTPError as err:
            return self.oip.error(err)
        return self.oip.answer("POST", path, raw, request.headers.get(HEADER_LENGTH))

    # -- every other route: no body read ----------------------------------------------------------
    def _route(self, request: Request) -> Answer:
        method, path = request.method, request.path
        if request.body_error is not None:  # refused even where the route ignores the body
            return self.error(request.body_error)
        if is_oip(path):
            return self.oip.answer(method, path)
        if path.startswith(DOCS_ASSETS) and method in _GET:
            return self._asset(path[len(DOCS_ASSETS) :], method)
        allowed = METHODS.get(path)
        if allowed is None:
            return self.error(framework_error(404, method, path, ""))
        if allowed == "GET" and method in _GET:
            if path == "/health":
                return self._health
            if path == "/model":
                return self._model
            if path == "/openapi.json":
                return Answer(200, self.document(), self.headers)
            return self._page()
        return self.error(framework_error(405, method, path, ""), {"allow": allowed})

    def document(self) -> bytes:
        """The OpenAPI document, built on its first request: FastAPI is imported for it only
        (about 150 ms of imports, off every other request's cold start: bench/hotpath.py)."""
        if self._document is None:
            from functions.predict.app import create_app

            self._document = orjson.dumps(create_app(self.service, self).openapi())
        return self._document

    def _page(self) -> Answer:
        from functions.predict import docs  # Swagger UI's page: FastAPI's, imported for it only

        body, media = docs.page()
        return Answer(200, body, {"content-type": media})

    def _asset(self, name: str, method: str) -> Answer:
        from functions.predict import docs

        found = docs.asset(name)
        if found is None:
            return self.error(framework_error(404, method, DOCS_ASSETS + name, ""))
        body, media, binary = found
        headers = {"content-type": media, "cache-control": docs.CACHE_CONTROL}
        return Answer(200, body, headers, binary=binary)
