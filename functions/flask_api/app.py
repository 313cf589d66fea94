"""The Flask app: POST /predict, GET /health, GET /model, with the predict function's errors.

Every route delegates to `PredictionService`, the code the Lambda function runs, so the two
front ends cannot disagree on validation, inference or error codes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from functions.predict import contract
from functions.predict.exceptions import HTTPError
from functions.predict.service import PredictionService

log = logging.getLogger(__name__)


def _json(status: int, data: bytes, headers: Mapping[str, str] | None = None) -> Response:
    return Response(data, status=status, headers=contract.json_headers(data, headers or {}))


def create_app(service: PredictionService) -> Flask:
    app = Flask(__name__)
    # Werkzeug refuses a body past the cap unread; below it the service reads and judges it.
    cap = contract.unread_cap(service.settings.max_body_bytes)
    app.config["MAX_CONTENT_LENGTH"] = cap
    app.extensions["slipway"] = service

    # No automatic OPTIONS: the FastAPI app answers OPTIONS with 405 too.
    @app.post("/predict", provide_automatic_options=False)
    def predict() -> Response:
        # get_data() reads the raw body whatever the Content-Type; the service checks the type.
        body = request.get_data(cache=False)
        if request.content_length is None and len(body) >= cap:
            raise RequestEntityTooLarge()  # a chunked body Werkzeug cut off at the cap
        reply = service.predict(body, request.headers.get("Content-Type"))
        return _json(reply.status, reply.body, reply.headers)

    @app.get("/health", provide_automatic_options=False)
    def health() -> Response:
        return _json(200, orjson.dumps(service.health()))

    @app.get("/model", provide_automatic_options=False)
    def model() -> Response:
        return _json(200, orjson.dumps(service.model_info()))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        err: HTTPError
        if status == 413:
            err = contract.body_too_large(request.content_length, service.settings.max_body_bytes)
        else:
            detail = f"{status} {exc.name}: {exc.description or ''}".strip()
            err = contract.framework_error(status, request.method, request.path, detail)
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return _json(err.status, contract.error_body(err), headers)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        # A bug or an onnxruntime fault, not the client's mistake: a JSON 500, logged.
        log.exception("request failed")
        err = contract.internal_error()
        return _json(err.status, contract.error_body(err), service.model_headers)

    return app
