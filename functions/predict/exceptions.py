"""Errors of the prediction function. HTTP errors carry their status and a stable code.

How an error becomes a JSON answer (body shape, message bound, result mapping) is the HTTP
contract's business: functions/predict/contract.py.
"""

from __future__ import annotations


class PredictError(Exception):
    """Base class of the prediction function's errors."""


class ConfigError(PredictError):
    """Raise when an environment variable holds a value the function cannot use."""


class ModelInitError(PredictError):
    """Raise when the model cannot be loaded at init; the environment must not serve."""


class UnsupportedEvent(PredictError):
    """Raise when the function is invoked with an event that is not an HTTP request.

    It propagates out of the handler, so the invoker sees a function error (errorType
    UnsupportedEvent) naming the event type: an SQS or stream message is retried and then goes
    to its dead-letter queue rather than being deleted as if it had been handled.
    """


class HTTPError(PredictError):
    """Raise when a request must be answered with an error status (a client's mistake)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class NonFiniteOutput(HTTPError):
    """Raise when the model's outputs for some rows are NaN or infinite (finite inputs it cannot compute)."""

    status = 422
    code = "non_finite_output"


class NotFound(HTTPError):
    """Raise when no route matches the request's path (the web framework decides it)."""

    status = 404
    code = "not_found"


class MethodNotAllowed(HTTPError):
    """Raise when the path has a route, but not for the request's method."""

    status = 405
    code = "method_not_allowed"


class InvalidRequest(HTTPError):
    """Raise when FastAPI's own request validation refuses the request."""

    status = 422
    code = "invalid_request"


class InternalError(HTTPError):
    """Raise when the function itself fails (a bug, an onnxruntime fault): not the client's doing."""

    status = 500
    code = "internal_error"


class ModelNotFound(HTTPError):
    """Raise when an Open Inference Protocol path names a model or version not served here."""

    status = 404
    code = "model_not_found"


class InvalidTensor(HTTPError):
    """Raise when binary tensor data does not add up (Inference-Header-Content-Length, binary_data_size against shape × datatype)."""

    code = "invalid_tensor"


class ImageTooLarge(HTTPError):
    """Raise when an image's header gives more pixels than SLIPWAY_MAX_IMAGE_PIXELS (or than
    Pillow's decompression-bomb guard allows): refused before its pixels are decoded."""

    status = 413
    code = "image_too_large"


class UnsupportedImage(HTTPError):
    """Raise when an item sent as an image is not one this function decodes: another format
    (TIFF, HEIC, SVG, …) or bytes that are no image at all; the message says what they are."""

    status = 415
    code = "unsupported_image"


class InvalidImage(HTTPError):
    """Raise when a JPEG, PNG, WebP, GIF or BMP cannot be decoded: truncated or corrupt."""

    status = 422
    code = "invalid_image"


class TextTooLong(HTTPError):
    """Raise when a text has more characters than SLIPWAY_MAX_TEXT_CHARS, or more tokens than
    the model reads while the request asks not to truncate (`"truncation": false`)."""

    status = 422
    code = "text_too_long"


class InvalidText(HTTPError):
    """Raise when an item sent as a text is not UTF-8 (an Open Inference Protocol BYTES
    element, a raw body)."""

    code = "invalid_text"


class InvalidMultipart(HTTPError):
    """Raise when a multipart/form-data body cannot be parsed (no boundary, a malformed part,
    no closing boundary)."""

    code = "invalid_multipart"
