"""What the Lambda event sources share: the body of an event, and a result's headers and body.

Every source's result is exactly what Mangum's handler for it gives for the same answer
(tests/functions/predict/test_contract.py compares them); Mangum itself is not imported on
the request path (it imports asyncio: about 50 ms more at cold start).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.predict.body import JSON, decode_base64, encode_base64
from functions.predict.exceptions import InvalidBase64
from functions.predict.exchange import Answer


def body_of(event: Mapping[str, Any]) -> tuple[bytes, InvalidBase64 | None]:
    """The event's body as bytes (base64 decoded strictly where the event says so), and the
    refusal of one that does not decode (the dispatcher answers it in the contract's order)."""
    body = event.get("body")
    if not body:
        return b"", None
    if event.get("isBase64Encoded"):
        try:
            return decode_base64(body), None
        except InvalidBase64 as err:
            return b"", err
    if type(body) is str:
        return body.encode(), None
    return (body if type(body) is bytes else str(body).encode()), None


def headers_of(answer: Answer) -> dict[str, str]:
    """A result's headers: the two Starlette would add, then the answer's own."""
    return {"content-length": str(len(answer.body)), "content-type": JSON, **answer.headers}


def text_of(answer: Answer) -> str:
    """A result's body: text, or base64 for a binary answer (with isBase64Encoded)."""
    if answer.binary:
        return encode_base64(answer.body)
    return answer.body.decode()


def header(headers: Any, name: str) -> Any:
    """`name` (lower case) in a header mapping whatever its keys' case (REST API keeps the
    client's capitalisation)."""
    if not headers or not isinstance(headers, Mapping):
        return None
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return val
    return None


def merged_headers(event: Mapping[str, Any]) -> dict[str, str]:
    """A v1 or ALB event's headers in lower case: `headers`, over the last value of each of
    `multiValueHeaders` (the form an ALB with multi-value headers sends alone)."""
    out: dict[str, str] = {}
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping):
        for key, values in multi.items():
            if isinstance(key, str) and isinstance(values, list) and values:
                last = values[-1]
                if isinstance(last, str):
                    out[key.lower()] = last
    single = event.get("headers")
    if isinstance(single, Mapping):
        for key, value in single.items():
            if isinstance(key, str) and isinstance(value, str):
                out[key.lower()] = value
    return out
