"""Read API Gateway (HTTP API v2, REST v1), Function URL and ALB events, with AWS's own field names.

The answer's side, the integration result in the event's format, is `contract.lambda_result`.
Any other event (SQS, S3, WebSocket, a Lambda authorizer…) is refused by `require_http`, with
an UnsupportedEvent that names what it is, from the event's documented shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.predict.exceptions import UnsupportedEvent

V2 = "v2"  # HTTP API payload 2.0 and Lambda Function URLs
V1 = "v1"  # REST API, and HTTP API payload 1.0
ALB = "alb"  # an Application Load Balancer target group (answered with `headers`)
ALB_MULTI = "alb-multi"  # the same with multi-value headers on (answered with multiValueHeaders)

SUPPORTED = "API Gateway (HTTP API, REST API), Lambda Function URL and ALB HTTP events"
# Records[].eventSource (EventSource for SNS) of the event sources Lambda polls or is sent.
_SOURCES = {
    "aws:sqs": "an SQS",
    "aws:s3": "an S3",
    "aws:sns": "an SNS",
    "aws:dynamodb": "a DynamoDB Streams",
    "aws:kinesis": "a Kinesis",
    "aws:ses": "an SES",
    "aws:kafka": "an MSK (Kafka)",
    "SelfManagedKafka": "a Kafka",
    "aws:mq": "an Amazon MQ",
    "aws:rmq": "a RabbitMQ",
    "aws:codecommit": "a CodeCommit",
}
# Other event types by the top-level fields their documentation gives them.
_SIGNATURES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"awslogs"}), "a CloudWatch Logs subscription"),
    (frozenset({"deliveryStreamArn", "records"}), "a Kinesis Data Firehose"),
    (frozenset({"RequestType", "ResponseURL"}), "a CloudFormation custom resource"),
    (frozenset({"triggerSource", "userPoolId"}), "a Cognito user pool trigger"),
    (frozenset({"getObjectContext"}), "an S3 Object Lambda"),
    (frozenset({"actionGroup", "agent"}), "a Bedrock agent"),
    (frozenset({"fieldName", "arguments"}), "an AppSync resolver"),
    (frozenset({"CodePipeline.job"}), "a CodePipeline job"),
    (frozenset({"configRuleName"}), "an AWS Config rule"),
    (frozenset({"SecretId", "ClientRequestToken", "Step"}), "a Secrets Manager rotation"),
    (frozenset({"currentIntent", "bot"}), "a Lex"),
    (frozenset({"Name", "Details"}), "an Amazon Connect contact flow"),
    (frozenset({"raw_path", "method"}), "a VPC Lattice (v1)"),
    (frozenset({"requestContext", "method", "path"}), "a VPC Lattice (v2)"),
)
# How much of a field's value or name a description quotes.
_QUOTE = 60


# Not frozen: a frozen dataclass's __init__ costs ~1 µs more on every request (measured).
@dataclass(slots=True)
class HttpRequest:
    kind: str
    method: str
    path: str
    content_type: str | None
    body: str | bytes | None
    is_base64: bool
    request_id: str | None


def v2_http(event: Any) -> dict[str, Any] | None:
    """`requestContext.http` of an HTTP API payload 2.0 or Function URL event (the usual
    case), checked as `parse` checks it, or None: the handler's one-pass paths read the event
    through it without building an HttpRequest."""
    if type(event) is dict and event.get("version") == "2.0":
        ctx: Any = event.get("requestContext")
        http: Any = ctx.get("http") if type(ctx) is dict else None
        if type(http) is dict and "connectionId" not in ctx and not _is_authorizer(event):
            return http
    return None


def parse(event: Any) -> HttpRequest | None:
    """The request in `event`, or None for an event this module does not know."""
    plain = v2_http(event)
    if plain is not None:
        headers = event.get("headers")
        content_type = headers.get("content-type") if type(headers) is dict else None
        return HttpRequest(
            V2,
            plain.get("method", ""),
            plain.get("path", ""),
            content_type if content_type is not None else _header(headers, "content-type"),
            event.get("body"),
            bool(event.get("isBase64Encoded")),
            event["requestContext"].get("requestId"),
        )
    if not isinstance(event, Mapping):
        return None
    ctx = event.get("requestContext")
    if not isinstance(ctx, Mapping) or _is_authorizer(event) or "connectionId" in ctx:
        # Authorizer and WebSocket events can carry a request's fields; they are not requests.
        return None
    if event.get("version") == "2.0" and isinstance(ctx.get("http"), Mapping):
        http = ctx["http"]  # a Mapping that is not a dict (v2_http takes dicts only)
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
        kind = V1
        if "elb" in ctx:
            kind = ALB_MULTI if "multiValueHeaders" in event else ALB
        return HttpRequest(
            kind=kind,
            method=event["httpMethod"],
            path=event["path"],
            content_type=content_type,
            body=event.get("body"),
            is_base64=bool(event.get("isBase64Encoded")),
            request_id=ctx.get("requestId"),
        )
    return None


def require_http(event: Any) -> HttpRequest:
    """The request in `event`; raise UnsupportedEvent, naming the event, if it is not one."""
    request = parse(event)
    if request is None:
        raise UnsupportedEvent(f"this function answers {SUPPORTED}; got {describe(event)}")
    return request


def describe(event: Any) -> str:
    """What a non-HTTP event is, from its documented shape, with the fields that say so."""
    if not isinstance(event, Mapping):
        return f"an event that is a JSON {type(event).__name__}, not an object"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        first = records[0]
        source = first.get("eventSource") or first.get("EventSource")
        if isinstance(source, str):
            name = _SOURCES.get(source, f"a {_short(source)}")
            return f"{name} event (Records[].eventSource {_short(source)})"
        if "cf" in first:
            return "a CloudFront (Lambda@Edge) event (Records[].cf)"
        return f"an event with Records whose first record has keys {_keys(first)}"
    ctx = event.get("requestContext")
    if _is_authorizer(event):
        arn = "methodArn" if "methodArn" in event else "routeArn"
        return f"an API Gateway Lambda authorizer event (type {_short(event.get('type'))}, {arn})"
    if isinstance(ctx, Mapping) and "connectionId" in ctx:
        route = ctx.get("routeKey", ctx.get("eventType"))
        return (
            "an API Gateway WebSocket event (requestContext.connectionId, routeKey "
            f"{_short(route)})"
        )
    source = event.get("eventSource")  # Kafka and MQ batches: one source for all the records
    if isinstance(source, str):
        name = _SOURCES.get(source, f"a {_short(source)}")
        return f"{name} event (eventSource {_short(source)})"
    if "detail-type" in event and "source" in event:
        return f"an EventBridge event (source {_short(event.get('source'))})"
    for fields, name in _SIGNATURES:
        if fields <= event.keys():
            return f"{name} event ({', '.join(sorted(fields))})"
    if not event:
        return "an empty event ({})"
    return f"an event with keys {_keys(event)}"


def _is_authorizer(event: Mapping[str, Any]) -> bool:
    # REST (TOKEN, REQUEST: methodArn) and HTTP API (REQUEST: routeArn) authorizers.
    return event.get("type") in ("TOKEN", "REQUEST") and (
        "methodArn" in event or "routeArn" in event
    )


def _short(value: Any, limit: int = _QUOTE) -> str:
    from functions.predict.contract import clip  # contract imports this module

    return clip(str(value), limit)


def _keys(mapping: Mapping[Any, Any]) -> str:
    keys = sorted(_short(k) for k in list(mapping)[:20])
    more = f" and {len(mapping) - 20} more" if len(mapping) > 20 else ""
    return _short(", ".join(keys), 200) + more


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header's value (`name` lower-case) in any of the HTTP events' forms."""
    value = _header(event.get("headers"), name)
    if value is None:
        values = _header(event.get("multiValueHeaders"), name)
        value = values[-1] if values else None
    return value if isinstance(value, str) else None


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
