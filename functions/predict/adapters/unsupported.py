"""Events that are not HTTP requests, refused by name.

Any event no source in this package reads (SQS, S3, WebSocket, a Lambda authorizer…) is
refused (adapters.require_http) with an UnsupportedEvent that names what it is, from the
event's documented shape (`describe`), not with a KeyError from deep inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.predict.adapters.apigw_v2 import is_authorizer
from functions.predict.messages import clip

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
    if is_authorizer(event):
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


def _short(value: Any, limit: int = _QUOTE) -> str:
    return clip(str(value), limit)


def _keys(mapping: Mapping[Any, Any]) -> str:
    keys = sorted(_short(k) for k in list(mapping)[:20])
    more = f" and {len(mapping) - 20} more" if len(mapping) > 20 else ""
    return _short(", ".join(keys), 200) + more
