"""The classic Flask API: a WSGI adapter around the prediction function's one dispatcher.

Every route (POST /predict, GET /health, GET /model, the Open Inference Protocol, the
OpenAPI document and /docs) is the dispatcher's: this module only translates Flask's
request into a Request and the Answer back, so the Flask front end cannot disagree with the
Lambda function on routing, validation, inference or error codes.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from functions.predict.dispatch import Dispatcher
from functions.predict.errors import framework_error, internal_error
from functions.predict.exceptions import HTTPError
from functions.predict.exchange import Answer, Request
from functions.predict.limits import body_too_large, unread_cap
from functions.predict.service import PredictionService

log = logging.getLogger(__name__)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _response(answer: Answer) -> Response:
    headers = {"content-length": str(len(answer.body)), **answer.headers}
    return Response(answer.body, status=answer.status, headers=headers)


def create_app(service: PredictionService) -> Flask:
    app = Flask(__name__)
    dispatch = Dispatcher(service, log)
    # Werkzeug refuses a body past the cap unread; below it the dispatcher reads and judges it.
    cap = unread_cap(service.settings.max_body_bytes)
    app.config["MAX_CONTENT_LENGTH"] = cap
    app.extensions["slipway"] = service

    # No automatic OPTIONS: the dispatcher answers it (a JSON 405) as on every front end.
    @app.route("/", defaults={"path": ""}, methods=METHODS, provide_automatic_options=False)
    @app.route("/<path:path>", methods=METHODS, provide_automatic_options=False)
    def everything(path: str) -> Response:
        # get_data() reads the raw body whatever the Content-Type; the dispatcher checks it.
        body = request.get_data(cache=False)
        if request.content_length is None and len(body) >= cap:
            raise RequestEntityTooLarge()  # a chunked body Werkzeug cut off at the cap
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = request.query_string.decode("latin-1")
        return _response(dispatch(Request(request.method, request.path, headers, body, query)))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        err: HTTPError
        if status == 413:
            err = body_too_large(request.content_length, service.settings.max_body_bytes)
        else:
            detail = f"{status} {exc.name}: {exc.description or ''}".strip()
            err = framework_error(status, request.method, request.path, detail)
        return _response(dispatch.error(err))

    @app.errorhandler(Exception)
    def internal(exc: Exception) -> Response:
        # A bug outside the dispatcher (which answers its own): a JSON 500, logged.
        log.exception("request failed")
        return _response(dispatch.error(internal_error()))

    return app
