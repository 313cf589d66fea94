"""The prediction API's HTTP contract, defined once for every front end.

The direct Lambda path (runtime.py), the FastAPI app (app.py, the source of the OpenAPI
document) and the Flask app (functions/flask_api) all answer through this module:

- which error code a status the web framework decides (404, 405, 413, 500) carries;
  the service's own errors carry theirs on their class (exceptions.py);
- the JSON error body `{"error": {"status", "code", "message"}}`, message bounded;
- base64 request bodies (strict), the Content-Type rule and the order of those checks;
- the body, batch and response size limits, and the cap past which a server refuses unread;
- a JSON answer's headers, and its mapping to an API Gateway v2/v1, Function URL or ALB result;
- `clip` and `quote`, the one rule bounding text that echoes the client in a message;
- the Open Inference Protocol's error body `{"error": "..."}` and binary (base64) results.

No web framework is imported here: the direct path imports this module at cold start.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import orjson

from functions.predict import events
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

JSON = "application/json"
BINARY = "application/octet-stream"  # the Open Inference Protocol's binary tensor bodies

# -- errors ----------------------------------------------------------------------------------

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
# A message may quote the client's input (field names, onnxruntime's text): keep bodies small.
MAX_MESSAGE_CHARS = 1000
# Each quote of the client's input (field names, a Content-Type, a path) is cut at the source to
# this many characters, so one message (and its log line) stays small whatever the client sent.
QUOTE_CHARS = 200
ROUTES = "POST /predict, GET /health, GET /model, /v2 (OIP)"


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` cut to at most `limit` characters, saying how many were cut.

    The one rule for bounding text that echoes a client: validation's quotes use QUOTE_CHARS,
    error_body applies it to the whole message with MAX_MESSAGE_CHARS.
    """
    if len(text) <= limit:
        return text
    keep = limit
    while True:  # the note's length depends on the count it gives: settle both
        note = f"… ({len(text) - keep:,} more characters)".replace(",", " ")
        if keep + len(note) <= limit or keep == 0:
            return text[:keep] + note
        keep = max(0, limit - len(note))


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """repr() of a value from the client (a key, a list of names), bounded by `clip`."""
    return clip(repr(value), limit)


def framework_error(status: int, method: str, path: str, detail: str) -> HTTPError:
    """The error for a status the web framework decided (routing, its own limits).

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

# -- request body ----------------------------------------------------------------------------


def decode_base64(body: str | bytes) -> bytes:
    """Strict base64: a character outside the alphabet or bad padding is the client's error."""
    try:
        # SIMD: ~2 µs for a 22 KB body, where the standard library takes ~90 (bench/hotpath.py).
        decoded: bytes = _pybase64().b64decode(body, validate=True)
        return decoded
    except (binascii.Error, ValueError):
        pass
    # pybase64 also refuses excess "=" padding, which the standard library's strict mode
    # accepts, and says less about what is wrong: the standard library decides and names it.
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII text
        raise InvalidBase64(
            f"the body is marked base64-encoded but does not decode: {clip(str(exc))}"
        ) from exc


def encode_base64(body: bytes) -> str:
    """`body` as base64 text (a binary Lambda result's body)."""
    text: str = _pybase64().b64encode_as_string(body)
    return text


def _pybase64() -> ModuleType:
    """pybase64, imported on the first base64 body, not at cold start (~1 ms)."""
    global _PYBASE64
    if _PYBASE64 is None:
        import pybase64

        _PYBASE64 = pybase64
    return _PYBASE64


_PYBASE64: ModuleType | None = None


def check_content_type(content_type: str | None, *, binary: bool = False) -> None:
    """JSON only (or `BINARY` too where `binary`: the Open Inference Protocol's binary tensors);
    a missing header is taken as JSON (API Gateway forwards what the client sent)."""
    if not content_type or content_type == JSON or (binary and content_type == BINARY):
        return  # the usual headers, exactly: no parsing
    media = content_type.split(";", 1)[0].strip().lower()
    if media == JSON or (media.startswith("application/") and media.endswith("+json")):
        return
    if binary and media == BINARY:
        return
    also = f" or {BINARY}" if binary else ""
    raise UnsupportedMediaType(
        f"Content-Type {quote(media)} is not supported; send the body as {JSON}{also}"
    )


def read_body(
    body: str | bytes | None,
    content_type: str | None,
    *,
    is_base64: bool,
    max_bytes: int,
    binary: bool = False,
) -> bytes:
    """The request body as bytes, or the error that refuses it.

    Order: base64, then Content-Type, then size. Mangum and serverless-wsgi decode base64
    before any app runs, so every front end can only answer in this order. (A Lambda event is
    at most 6 MB, so decoding before the size check costs little.)
    """
    if body is None:
        raw = b""
    elif is_base64:
        raw = decode_base64(body)
    else:
        raw = body.encode() if isinstance(body, str) else body
    check_content_type(content_type, binary=binary)
    check_body_size(len(raw), max_bytes)
    return raw


def refuse_before_app(
    event: Mapping[str, Any], headers: Mapping[str, str]
) -> dict[str, Any] | None:
    """The 400 result for an event whose base64 body does not decode strictly, else None.

    For front ends whose library decodes the body itself: Mangum raises on bad padding and
    serverless-wsgi drops characters outside the alphabet, so the event is checked first.
    """
    body = event.get("body")
    if not event.get("isBase64Encoded") or not body:
        return None
    try:
        decode_base64(body)
    except InvalidBase64 as err:
        request = events.parse(event)
        kind = request.kind if request else events.V2
        return lambda_result(kind, err.status, error_body(err), headers)
    return None


# -- size limits -----------------------------------------------------------------------------

# Lambda's synchronous invocation payload limit, for the request and the response.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
# Room for the response headers and the JSON envelope Lambda wraps around the body.
MAX_RESPONSE_BYTES = LAMBDA_PAYLOAD_LIMIT - 64 * 1024
# A server reading from a socket (gunicorn) refuses a body past this many times the limit
# without reading it; below that it reads the body and answers 413 as on Lambda.
UNREAD_CAP_FACTOR = 4


def body_too_large(size: int | None, max_bytes: int) -> PayloadTooLarge:
    """`size` is None when a server stopped reading a body of unknown length."""
    what = f"{size} bytes" if size is not None else "too large"
    return PayloadTooLarge(
        f"the body is {what}; the limit is {max_bytes} bytes (Lambda's payload limit is 6 MB); "
        "split the batch into smaller requests"
    )


def check_body_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise body_too_large(size, max_bytes)


def unread_cap(max_bytes: int) -> int:
    return UNREAD_CAP_FACTOR * max_bytes


# The longest string a request may carry in one string input's cell (e.g. a categorical
# column's value); validation refuses longer ones and the OpenAPI document states it.
MAX_STRING_CHARS = 1024


def check_batch(where: str, rows: int, max_batch: int) -> None:
    if rows > max_batch:
        raise PayloadTooLarge(
            f"{where} has {rows} rows; the batch limit is {max_batch}; split the request"
        )


def base64_size(size: int) -> int:
    """How many bytes `size` bytes take base64-encoded (a binary Lambda result's body)."""
    return 4 * ((size + 2) // 3)


def check_response_size(size: int, batch: int) -> None:
    """`size` as it leaves the function: a binary body's base64 size (`base64_size`)."""
    if size > MAX_RESPONSE_BYTES:
        raise PayloadTooLarge(
            f"the response for {batch} rows would be {size} bytes, over Lambda's 6 MB "
            "response limit; send fewer rows per request"
        )


# -- answers ---------------------------------------------------------------------------------


def json_headers(body: bytes, headers: Mapping[str, str]) -> dict[str, str]:
    """A JSON answer's headers: the two Starlette would add, then the answer's own."""
    return {"content-length": str(len(body)), "content-type": JSON, **headers}


def lambda_result(
    kind: str, status: int, body: bytes, headers: Mapping[str, str], *, binary: bool = False
) -> dict[str, Any]:
    """A JSON answer (or, with `binary`, bytes sent base64 with isBase64Encoded, as API
    Gateway requires; `headers` then carry their own content-type) as the Lambda integration
    result for an event of `kind`.

    Exactly what Mangum's HTTPGateway (v2, Function URL), APIGateway (REST v1) and ALB handlers
    give for the same answer (tests/functions/predict/test_contract.py compares them). Mangum's own
    classes are not used: importing mangum imports asyncio, about 50 ms more at cold start.
    """
    out_headers = json_headers(body, headers)
    text = encode_base64(body) if binary else body.decode()
    if kind == events.V2:  # the usual event first
        return {
            "statusCode": status,
            "body": text,
            "headers": out_headers,
            "isBase64Encoded": binary,
        }
    if kind in (events.ALB, events.ALB_MULTI):
        # ALB reads only the form its target group is set to: multi-value headers or not.
        key = "multiValueHeaders" if kind == events.ALB_MULTI else "headers"
        values: Mapping[str, Any] = out_headers
        if kind == events.ALB_MULTI:
            values = {k: [v] for k, v in out_headers.items()}
        return {"statusCode": status, "body": text, "isBase64Encoded": binary, key: values}
    return {
        "statusCode": status,
        "headers": out_headers,
        "multiValueHeaders": {},
        "body": text,
        "isBase64Encoded": binary,
    }
