"""Read API Gateway (HTTP API v2, REST v1) and Function URL events, with AWS's own field names.

The answer's side, the integration result in the event's format, is `contract.lambda_result`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

V2 = "v2"  # HTTP API payload 2.0 and Lambda Function URLs
V1 = "v1"  # REST API, and HTTP API payload 1.0


@dataclass(frozen=True, slots=True)
class HttpRequest:
    kind: str
    method: str
    path: str
    content_type: str | None
    body: str | bytes | None
    is_base64: bool
    request_id: str | None


def parse(event: Mapping[str, Any]) -> HttpRequest | None:
    """The request in `event`, or None for an event this module does not know."""
    ctx = event.get("requestContext")
    if not isinstance(ctx, Mapping):
        return None
    if event.get("version") == "2.0" and isinstance(ctx.get("http"), Mapping):
        http = ctx["http"]
        return HttpRequest(
            kind=V2,
            method=http.get("method", ""),
            path=http.get("path", ""),
            content_type=_header(event.get("headers"), "content-type"),
            body=event.get("body"),
            is_base64=bool(event.get("isBase64Encoded")),
            request_id=ctx.get("requestId"),
        )
    if "httpMethod" in event and "path" in event:
        headers = event.get("headers")
        content_type = _header(headers, "content-type")
        if content_type is None:
            multi = event.get("multiValueHeaders") or {}
            values = _header(multi, "content-type")
            content_type = values[-1] if values else None
        return HttpRequest(
            kind=V1,
            method=event["httpMethod"],
            path=event["path"],
            content_type=content_type,
            body=event.get("body"),
            is_base64=bool(event.get("isBase64Encoded")),
            request_id=ctx.get("requestId"),
        )
    return None


def _header(headers: Any, name: str) -> Any:
    if not headers:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in headers.items():  # REST API keeps the client's capitalisation
        if key.lower() == name:
            return val
    return None
