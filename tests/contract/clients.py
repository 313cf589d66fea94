"""One small client interface over every way the prediction API is served.

A Lambda target turns a request into a real-format event (tests/fixtures/events) and calls
the handler in process; the HTTP target sends it to a live server on loopback. Either way the
answer comes back as status, lower-case headers and body bytes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Protocol

import httpx

CTX = SimpleNamespace(aws_request_id="contract-1", function_name="contract")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client(Protocol):
    name: str
    # Only Lambda events can carry a base64-encoded body.
    supports_base64: bool

    def request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        content_type: str | None = "application/json",
        b64: bool = False,
    ) -> Answer: ...


def answer_from_lambda(response: dict[str, Any]) -> Answer:
    """Read an integration response: Mangum fills `headers`, serverless-wsgi answers an event
    that has multiValueHeaders (REST v1) with `multiValueHeaders` only."""
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ",".join(values)
    text = response.get("body") or ""
    body = base64.b64decode(text) if response.get("isBase64Encoded") else text.encode()
    return Answer(int(response["statusCode"]), headers, body)


@dataclass
class LambdaClient:
    name: str
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    make_event: Callable[..., dict[str, Any]]
    kind: str
    supports_base64: bool = True

    def request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        content_type: str | None = "application/json",
        b64: bool = False,
    ) -> Answer:
        event = self.make_event(
            self.kind, body=body, method=method, path=path, content_type=content_type, b64=b64
        )
        return answer_from_lambda(self.handler(event, CTX))


@dataclass
class HttpClient:
    name: str
    http: httpx.Client
    supports_base64: bool = False

    def request(
        self,
        method: str,
        path: str,
        body: str | None = None,
        content_type: str | None = "application/json",
        b64: bool = False,
    ) -> Answer:
        assert not b64, "HTTP has no base64-encoded bodies"
        headers = {"content-type": content_type} if content_type is not None else {}
        content = body.encode() if body is not None else None
        response = self.http.request(method, path, content=content, headers=headers)
        return Answer(response.status_code, dict(response.headers), response.content)
