"""API Gateway HTTP API events, payload format 2.0 (the usual event).

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
Header names arrive in lower case; repeated headers are joined with commas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.predict.adapters.payload import body_of, headers_of, text_of
from functions.predict.exchange import Answer, Request, lower_headers


def is_payload_v2(event: Any) -> bool:
    """A payload 2.0 HTTP request: `requestContext.http`, and neither a WebSocket event
    (`connectionId`) nor a Lambda authorizer's (which carry a request's fields too).

    type() before isinstance: an ABC check costs more, and this runs on every request."""
    if not (type(event) is dict or isinstance(event, Mapping)) or event.get("version") != "2.0":
        return False
    ctx = event.get("requestContext")
    if not (type(ctx) is dict or isinstance(ctx, Mapping)):
        return False
    http = ctx.get("http")
    if not (type(http) is dict or isinstance(http, Mapping)) or "connectionId" in ctx:
        return False
    return ("routeArn" not in event and "methodArn" not in event) or not is_authorizer(event)


def is_authorizer(event: Mapping[str, Any]) -> bool:
    # REST (TOKEN, REQUEST: methodArn) and HTTP API (REQUEST: routeArn) authorizers.
    return event.get("type") in ("TOKEN", "REQUEST") and (
        "methodArn" in event or "routeArn" in event
    )


def is_function_url(event: Mapping[str, Any]) -> bool:
    """A payload 2.0 event on a Function URL's domain, `<url-id>.lambda-url.<region>.on.aws`."""
    domain = event["requestContext"].get("domainName")
    return type(domain) is str and ".lambda-url." in domain


def read_v2(event: Mapping[str, Any]) -> Request:
    """The request of a payload 2.0 event (HTTP API or Function URL)."""
    ctx = event["requestContext"]
    http = ctx["http"]
    headers = event.get("headers")
    if type(headers) is not dict:
        headers = dict(headers) if isinstance(headers, Mapping) else {}
    if "content-type" not in headers:  # hand-made events may capitalise; AWS's never do
        headers = lower_headers(headers)
    raw = event.get("body")
    if type(raw) is str and raw and not event.get("isBase64Encoded"):
        body, refused = raw.encode(), None  # the usual body: JSON text
    else:
        body, refused = body_of(event)
    query = event.get("rawQueryString")
    return Request(
        http.get("method", ""),
        http.get("path", ""),
        headers,
        body,
        query if type(query) is str else "",
        ctx.get("requestId"),
        refused,
    )


def write_v2(answer: Answer) -> dict[str, Any]:
    return {
        "statusCode": answer.status,
        "body": text_of(answer),
        "headers": headers_of(answer),
        "isBase64Encoded": answer.binary,
    }


class HttpApiV2:
    name = "API Gateway HTTP API (payload 2.0)"
    kind = "v2"

    def infer(self, event: Any) -> bool:
        if not is_payload_v2(event):
            return False
        domain = event["requestContext"].get("domainName")  # is_function_url, inline: per request
        return type(domain) is not str or ".lambda-url." not in domain

    # The functions themselves, not methods calling them: one call less on every request.
    read = staticmethod(read_v2)
    write = staticmethod(write_v2)


SOURCE = HttpApiV2()
