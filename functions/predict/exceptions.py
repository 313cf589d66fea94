"""Errors of the prediction function. HTTP errors carry their status and a stable code."""

from __future__ import annotations

import orjson


class PredictError(Exception):
    """Base class of the prediction function's errors."""


class ConfigError(PredictError):
    """Raise when an environment variable holds a value the function cannot use."""


class ModelInitError(PredictError):
    """Raise when the model cannot be loaded at init; the environment must not serve."""


class HTTPError(PredictError):
    """Raise when a request must be answered with an error status (a client's mistake)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> bytes:
        return error_body(self.status, self.code, self.message)


def error_body(status: int, code: str, message: str) -> bytes:
    return orjson.dumps({"error": {"status": status, "code": code, "message": message}})


class InvalidJSON(HTTPError):
    """Raise when the body is not valid JSON."""

    code = "invalid_json"


class InvalidBase64(HTTPError):
    """Raise when an event says the body is base64 but it does not decode."""

    code = "invalid_base64"


class UnsupportedMediaType(HTTPError):
    """Raise when the request's Content-Type is not JSON."""

    status = 415
    code = "unsupported_media_type"


class PayloadTooLarge(HTTPError):
    """Raise when the body, the batch or the response would exceed a size limit."""

    status = 413
    code = "payload_too_large"


class InvalidInput(HTTPError):
    """Raise when well-formed JSON does not match the model's inputs."""

    status = 422
    code = "invalid_input"
