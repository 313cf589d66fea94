"""Build Lambda events for HTTP requests in AWS's formats (HTTP API 2.0, REST 1.0, Function URL).

Used by `slipway invoke`, the local gateway and benchmarks. Field names are AWS's own.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

TEXT_TYPES = ("application/json", "text/", "application/xml", "application/javascript")


def _is_text(content_type: str | None) -> bool:
    ct = (content_type or "").lower()
    return not ct or any(ct.startswith(t) for t in TEXT_TYPES) or ct.endswith("+json")


def _body(body: bytes | None, content_type: str | None) -> tuple[str | None, bool]:
    """API Gateway passes text as a string and everything else base64-encoded."""
    if body is None or body == b"":
        return None, False
    if _is_text(content_type):
        try:
            return body.decode(), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode(), True


def http_api_v2(
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    query: str = "",
    source_ip: str = "127.0.0.1",
    stage: str = "$default",
    api_id: str = "slipwaylocal",
    domain: str = "127.0.0.1",
    route_key: str | None = None,
    request_id: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload 2.0 event."""
    now = time.time() if now is None else now
    lower: dict[str, str] = {}
    cookies: list[str] = []
    for key, value in (headers or {}).items():
        k = key.lower()
        if k == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        elif k in lower:
            lower[k] = f"{lower[k]},{value}"  # HTTP API joins repeated headers with commas
        else:
            lower[k] = value
    text, is_b64 = _body(body, lower.get("content-type"))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lower,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent", ""),
            },
            "requestId": request_id or _request_id(),
            "routeKey": route_key or f"{method} {path}",
            "stage": stage,
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": is_b64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        params: dict[str, str] = {}
        for pair in query.split("&"):
            k, _, v = pair.partition("=")
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    if text is not None:
        event["body"] = text
    return event


def function_url(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """A Lambda Function URL event: payload 2.0 with routeKey $default."""
    event = http_api_v2(method, path, route_key="$default", **kwargs)
    event["requestContext"]["accountId"] = "anonymous"
    return event


def rest_v1(
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    stage: str = "prod",
) -> dict[str, Any]:
    """An API Gateway REST API (payload 1.0) proxy event."""
    hdrs = dict(headers or {})
    text, is_b64 = _body(
        body, next((v for k, v in hdrs.items() if k.lower() == "content-type"), None)
    )
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": hdrs.get("User-Agent", "")},
            "accountId": "123456789012",
            "apiId": "slipwaylocal",
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def _request_id() -> str:
    # API Gateway's HTTP API request ids are short base64 strings ending in '='.
    return base64.b64encode(uuid.uuid4().bytes[:10]).decode()
