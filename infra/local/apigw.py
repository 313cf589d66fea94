"""API Gateway HTTP API (payload 2.0) rules, as pure functions.

How an integration response becomes an HTTP response, and the errors the gateway itself
answers with. See AWS's "Working with AWS Lambda proxy integrations for HTTP APIs".
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import orjson

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # HTTP API payload limit
INTEGRATION_TIMEOUT_S = 30.0  # HTTP API's maximum integration timeout
MAX_HEADER_BYTES = 10240  # HTTP API: request line and headers together (431 beyond)

# Connection limits. AWS does not publish API Gateway's own; these bound what one client can
# hold (enforced by infra.local.connections, README "The local platform"):
HEADER_TIMEOUT_S = 10.0  # TLS handshake, and each request's line and headers, from first byte
BODY_TIMEOUT_S = 30.0  # the whole body, once the headers are in (10 MB at ~350 KB/s)
IDLE_TIMEOUT_S = 60.0  # keep-alive between requests (ALB's default idle timeout)
LINGER_S = 2.0  # after answering early (408, 413), the unread body is discarded this long
MAX_CONNECTIONS = 512  # open at once; beyond it a connection gets 503 and is closed


@dataclass(frozen=True)
class Limits:
    """The gateway's connection limits (the constants above; tests pass smaller ones)."""

    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    linger_s: float = LINGER_S
    max_connections: int = MAX_CONNECTIONS
    max_header_bytes: int = MAX_HEADER_BYTES


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def gateway_error(status: int, message: str) -> HttpResponse:
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, (("content-type", "application/json"),), body)


def from_lambda(payload: bytes) -> HttpResponse:
    """Map a function's result to the HTTP response, per payload format 2.0."""
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return gateway_error(502, "the function returned a result that is not JSON")
    if isinstance(result, dict) and "statusCode" in result:
        return _structured(result)
    # No statusCode: API Gateway assumes 200, JSON, and the result itself as the body.
    body = result if isinstance(result, str) else json.dumps(result)
    return HttpResponse(200, (("content-type", "application/json"),), body.encode())


def _structured(result: dict[str, Any]) -> HttpResponse:
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return gateway_error(502, "the function returned a statusCode that is not a number")
    if not 100 <= status <= 599:
        return gateway_error(502, f"the function returned statusCode {status}")
    headers: list[tuple[str, str]] = []
    for key, value in (result.get("headers") or {}).items():
        headers.append((str(key), str(value)))
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    body = result.get("body") or ""
    if not isinstance(body, str):
        body = json.dumps(body)
    if result.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return gateway_error(
                502, "the function returned isBase64Encoded with a body that is not base64"
            )
    else:
        raw = body.encode()
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("content-type", "application/json"))
    return HttpResponse(status, tuple(headers), raw)
