"""Every size limit of a request and its answer, and the errors that refuse them.

The configurable ones (body size, batch) come from config.py's settings; these are the
platform's and the contract's own.
"""

from __future__ import annotations

from functions.predict.exceptions import PayloadTooLarge

# Lambda's synchronous invocation payload limit, for the request and the response.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
# Room for the response headers and the JSON envelope Lambda wraps around the body.
MAX_RESPONSE_BYTES = LAMBDA_PAYLOAD_LIMIT - 64 * 1024
# A server reading from a socket (gunicorn) refuses a body past this many times the limit
# without reading it; below that it reads the body and answers 413 as on Lambda.
UNREAD_CAP_FACTOR = 4
# The longest string a request may carry in one string input's cell (e.g. a categorical
# column's value); validation refuses longer ones and the OpenAPI document states it.
MAX_STRING_CHARS = 1024


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
