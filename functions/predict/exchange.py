"""What the dispatcher takes and gives: one Request in, one Answer out, whatever the front end.

An event source (adapters/), the ASGI app (HTTP mode) and the Flask app each translate their
own request into a Request and the Answer back into their own result; nothing else crosses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from functions.predict.exceptions import HTTPError


# Not frozen: a frozen dataclass's __init__ costs ~1 µs more on every request (measured).
@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case; the last value of a repeated header
    body: bytes
    query: str = ""  # the raw query string, without "?"
    request_id: str | None = None  # the platform's id of this request, for logs
    # A refusal met while the body was received (bad base64, over the size a server reads),
    # raised in the contract's order by body.read or, on routes that ignore bodies, at once.
    body_error: HTTPError | None = None


@dataclass(slots=True)
class Answer:
    """Status, body and headers (content-type included; writers add content-length)."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    binary: bool = False  # the body is not text (binary tensors, an image): base64 on Lambda
    batch: int = 0  # rows predicted, for metrics
    code: str | None = None  # an error answer's code, for metrics and logs


def lower_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """`headers` with names in lower case (a copy only when one is not)."""
    for key in headers:
        if key != key.lower():
            return {k.lower(): v for k, v in headers.items()}
    return headers
