"""API Gateway REST API events, and HTTP API payload format 1.0 (the same format).

https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
Headers keep the client's capitalisation, in `headers` and `multiValueHeaders`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from functions.predict.adapters.apigw_v2 import is_authorizer
from functions.predict.adapters.payload import body_of, headers_of, merged_headers, text_of
from functions.predict.exchange import Answer, Request


def is_proxy_v1(event: Any) -> bool:
    """A payload 1.0 proxy event (REST API, HTTP API 1.0, or an ALB's: `elb` in its context)."""
    if not isinstance(event, Mapping) or "httpMethod" not in event or "path" not in event:
        return False
    ctx = event.get("requestContext")
    return isinstance(ctx, Mapping) and "connectionId" not in ctx and not is_authorizer(event)


def query_of(event: Mapping[str, Any]) -> str:
    """The query string of a payload 1.0 event, from its (multi-value) parameters."""
    multi = event.get("multiValueQueryStringParameters")
    if isinstance(multi, Mapping) and multi:
        return urlencode({k: v for k, v in multi.items() if isinstance(v, list)}, doseq=True)
    single = event.get("queryStringParameters")
    if isinstance(single, Mapping) and single:
        return urlencode({k: v for k, v in single.items() if isinstance(v, str)})
    return ""


def read_v1(event: Mapping[str, Any]) -> Request:
    body, refused = body_of(event)
    return Request(
        str(event["httpMethod"]),
        str(event["path"]),
        merged_headers(event),
        body,
        query_of(event),
        event["requestContext"].get("requestId"),
        refused,
    )


class RestApiV1:
    name = "API Gateway REST API (payload 1.0)"
    kind = "v1"

    def infer(self, event: Any) -> bool:
        return is_proxy_v1(event) and "elb" not in event["requestContext"]

    def read(self, event: Any) -> Request:
        return read_v1(event)

    def write(self, answer: Answer) -> dict[str, Any]:
        return {
            "statusCode": answer.status,
            "headers": headers_of(answer),
            "multiValueHeaders": {},
            "body": text_of(answer),
            "isBase64Encoded": answer.binary,
        }


SOURCE = RestApiV1()
