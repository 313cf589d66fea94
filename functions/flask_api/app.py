"""The Flask app: POST /predict, GET /health, GET /model, with the predict function's errors.

Every route delegates to `PredictionService`, the code the Lambda function runs, so the two
front ends cannot disagree on validation, inference or error codes.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from functions.predict.exceptions import error_body
from functions.predict.service import JSON, PredictionService

# The same codes as the FastAPI app (functions/predict/app.py) for the same statuses.
_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
# Werkzeug refuses bodies past this many times the service's limit without reading them; below
# it, the service reads the body and answers 413 itself, as it does on Lambda.
_HARD_CAP_FACTOR = 4

log = logging.getLogger(__name__)


def _json(status: int, data: bytes, headers: Any = None) -> Response:
    return Response(data, status=status, headers=dict(headers or {}), mimetype=JSON)


def create_app(service: PredictionService) -> Flask:
    app = Flask(__name__)
    cap = _HARD_CAP_FACTOR * service.settings.max_body_bytes
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
        code = _CODES.get(status, "http_error")
        message = f"{status} {exc.name}: {exc.description or ''}".strip()
        if status == 404:
            message = f"no route for {request.path}; the API has /predict, /health and /model"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.path}"
        elif status == 413:
            size = request.content_length
            message = (
                f"the body is {f'{size} bytes' if size is not None else 'too large'}, far over "
                f"the limit of {service.settings.max_body_bytes} bytes; split the batch into "
                "smaller requests"
            )
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return _json(status, error_body(status, code, message), headers)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        # A bug or an onnxruntime fault, not the client's mistake: a JSON 500, logged.
        log.exception("request failed")
        body = error_body(500, "internal_error", "the request failed; see the server's logs")
        return _json(500, body, service.model_headers)

    return app
