"""The cheap routes, answered without a web framework on every front end's direct path.

GET /health, GET /model, the Open Inference Protocol under /v2 (oip.py), and the JSON 404/405
for anything else: runtime.py (Lambda) and http.py (HTTP mode) answer them from here, so no
live request pays FastAPI's construction. Only /docs and /openapi.json (`needs_framework`) go
to the FastAPI app, which builds the OpenAPI document. POST /predict stays each front end's
own direct path (the service's `predict`).
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from functions.predict import contract
from functions.predict.exceptions import HTTPError
from functions.predict.oip import Answer, Protocol
from functions.predict.service import PredictionService

FRAMEWORK_PATHS = frozenset({"/docs", "/openapi.json"})
_DOCS_ASSETS = "/docs/assets/"
# The path of each route the function answers itself -> its one method.
_METHODS = {"/predict": "POST", "/health": "GET", "/model": "GET"}


def needs_framework(path: str) -> bool:
    """Whether `path` is FastAPI's (the API document and its page), not a direct route."""
    return path in FRAMEWORK_PATHS or path.startswith(_DOCS_ASSETS)


def is_oip(path: str) -> bool:
    return path == "/v2" or path.startswith("/v2/")


class Routes:
    def __init__(self, service: PredictionService, health: Mapping[str, str] | None = None) -> None:
        self.service = service
        self.oip = Protocol(service)
        headers = {**service.model_headers, "content-type": contract.JSON}
        self._headers = headers
        self._health = Answer(200, orjson.dumps({**service.health(), **(health or {})}), headers)
        self._model = Answer(200, orjson.dumps(service.model_info()), headers)

    def answer(
        self, method: str, path: str, body: bytes = b"", header_length: str | None = None
    ) -> Answer:
        """The answer to any request but POST /predict and the framework's paths."""
        if is_oip(path):
            return self.oip.answer(method, path, body, header_length)
        allowed = _METHODS.get(path)
        if allowed == "GET" and method in ("GET", "HEAD"):
            return self._health if path == "/health" else self._model
        err = contract.framework_error(405 if allowed else 404, method, path, "")
        return self.error(err, {"allow": allowed} if allowed else {})

    def error(self, err: HTTPError, extra: Mapping[str, str] | None = None) -> Answer:
        headers = {**self._headers, **extra} if extra else self._headers
        return Answer(err.status, contract.error_body(err), headers, code=err.code)
