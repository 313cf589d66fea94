"""A request's body: strict base64 (API Gateway's isBase64Encoded), the Content-Type rule and
the order of the checks every route that reads a body makes.

Order: base64, then Content-Type, then size. Mangum and serverless-wsgi decode base64 before
any app runs, so every front end can only answer in this order; an event source decodes the
body when it reads the event (`decode_base64`) and hands a refusal over as the request's
`body_error`, which `read` raises in its turn.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from types import ModuleType

from functions.predict.exceptions import InvalidBase64, UnsupportedMediaType
from functions.predict.exchange import Request
from functions.predict.limits import check_body_size
from functions.predict.messages import clip, quote

JSON = "application/json"
BINARY = "application/octet-stream"  # the Open Inference Protocol's binary tensor bodies


def decode_base64(body: str | bytes) -> bytes:
    """Strict base64: a character outside the alphabet or bad padding is the client's error."""
    try:
        # SIMD: ~2 µs for a 22 KB body, where the standard library takes ~90 (bench/hotpath.py).
        decoded: bytes = (_PYBASE64 or _pybase64()).b64decode(body, validate=True)
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
    text: str = (_PYBASE64 or _pybase64()).b64encode_as_string(body)
    return text


def _pybase64() -> ModuleType:
    """pybase64, imported on the first base64 body, not at cold start (~1 ms, measured in
    bench/hotpath.py's cold table)."""
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


def read(
    request: Request,
    max_bytes: int,
    *,
    binary: bool = False,
    media: Callable[[str | None], None] | None = None,
) -> bytes:
    """The body of a request whose route reads it, or the error that refuses it (in order).

    `media`, where the route takes other types than JSON (a model with processing: images,
    texts), is its Content-Type rule in place of `check_content_type`."""
    body, refused = request.body, request.body_error
    content_type = request.headers.get("content-type")
    if (
        refused is None
        and len(body) <= max_bytes
        and media is None
        and (content_type is None or content_type == JSON or (binary and content_type == BINARY))
    ):
        return body  # the usual request: check_content_type's first case, without a call
    if refused is not None and type(refused) is InvalidBase64:
        raise refused
    if media is None:
        check_content_type(content_type, binary=binary)
    else:
        media(content_type)
    if refused is not None:  # a server stopped reading it at the limit
        raise refused
    check_body_size(len(body), max_bytes)
    return body
