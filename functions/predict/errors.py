"""Error answers: which code a status the routing or a server decides carries, and the bodies.

The function's own errors carry their status and code on their class (exceptions.py). Two
bodies: the prediction API's `{"error": {"status", "code", "message"}}` and the Open Inference
Protocol's `{"error": "message"}`, both bounded (messages.clip).
"""

from __future__ import annotations

from typing import Any

import orjson

from functions.predict.exceptions import (
    HTTPError,
    InternalError,
    InvalidBase64,
    InvalidInput,
    InvalidJSON,
    MethodNotAllowed,
    NonFiniteOutput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from functions.predict.messages import MAX_MESSAGE_CHARS, clip

# What POST /predict can refuse a request with; the OpenAPI document lists them by status.
PREDICT_ERRORS: tuple[type[HTTPError], ...] = (
    InvalidJSON,
    InvalidBase64,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidInput,
    NonFiniteOutput,
)
# Statuses a web framework answers by itself, other than routing's 404 and 405.
_FRAMEWORK_ERRORS: dict[int, type[HTTPError]] = {
    cls.status: cls for cls in (PayloadTooLarge, InternalError)
}
_OTHER_CODE = "http_error"
ROUTES = "POST /predict, GET /health, GET /model, /v2 (OIP)"


def framework_error(status: int, method: str, path: str, detail: str) -> HTTPError:
    """The error for a status the routing or a server decided (no route, its own limits).

    `detail` is the framework's own text, used where the contract has no message of its own.
    """
    if status == NotFound.status:
        return NotFound(f"no route for {clip(path)}; the API has {ROUTES}")
    if status == MethodNotAllowed.status:
        return MethodNotAllowed(f"{clip(method, 40)} is not allowed on {clip(path)}")
    cls = _FRAMEWORK_ERRORS.get(status)
    if cls is not None:
        return cls(detail)
    err = HTTPError(detail)
    err.status, err.code = status, _OTHER_CODE
    return err


def internal_error() -> InternalError:
    return InternalError("the request failed; see the function's logs")


def error_body(err: HTTPError) -> bytes:
    # A backstop: the messages' own quotes are already bounded (clip, quote).
    message = clip(err.message, MAX_MESSAGE_CHARS)
    return orjson.dumps({"error": {"status": err.status, "code": err.code, "message": message}})


def oip_error_body(err: HTTPError) -> bytes:
    """The Open Inference Protocol's error body, `{"error": "message"}`, bounded the same way."""
    return orjson.dumps({"error": clip(err.message, MAX_MESSAGE_CHARS)})


OIP_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string", "maxLength": MAX_MESSAGE_CHARS}},
    "required": ["error"],
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string", "maxLength": MAX_MESSAGE_CHARS},
            },
            "required": ["status", "code", "message"],
        }
    },
    "required": ["error"],
}
