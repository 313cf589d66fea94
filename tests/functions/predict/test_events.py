"""Events that are not HTTP requests, and ALB's, through both Lambda handlers (issue 11).

The events are trimmed copies of aws-powertools/powertools-lambda-python tests/events/*.json
and aws-lambda-go events/testdata (file names below); only the fields the detection reads and
a few around them are kept. The full fixture sets are tests/fixtures/events/.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from functions.flask_api.app import create_app
from functions.flask_api.wsgi_lambda import make_handler
from functions.predict.adapters import require_http
from functions.predict.config import Settings
from functions.predict.exceptions import UnsupportedEvent
from functions.predict.runtime import PredictFunction, build
from functions.predict.service import PredictionService
from tests.conftest import load_event
from tests.functions.predict.test_contract import ALB
from tests.functions.predict.test_handler import CTX

NON_HTTP: dict[str, tuple[Any, str]] = {
    # name: (event, what the message must say)
    "sqsEvent.json": (
        {
            "Records": [
                {
                    "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                    "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                    "body": "Test message.",
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
                    "awsRegion": "us-east-2",
                }
            ]
        },
        "an SQS event (Records[].eventSource aws:sqs)",
    ),
    "s3Event.json": (
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-2",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": "lambda-artifacts-deafc19498e3f2df"},
                        "object": {"key": "b21b84d653bb07b05b1e6b33684dc11b", "size": 1305107},
                    },
                }
            ]
        },
        "an S3 event (Records[].eventSource aws:s3)",
    ),
    "snsEvent.json": (
        {
            "Records": [
                {
                    "EventVersion": "1.0",
                    "EventSource": "aws:sns",
                    "Sns": {"Type": "Notification", "Message": "Hello from SNS!"},
                }
            ]
        },
        "an SNS event",
    ),
    "eventBridgeEvent.json": (
        {
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "detail": {"instance_id": "i-1234567890abcdef0", "state": "terminated"},
        },
        "an EventBridge event (source aws.ec2)",
    ),
    "apiGatewayWebSocketApiConnect.json": (
        {
            "headers": {"Host": "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {"Host": ["fjnq7njcv2.execute-api.us-east-1.amazonaws.com"]},
            "requestContext": {
                "routeKey": "$connect",
                "eventType": "CONNECT",
                "stage": "prod",
                "requestId": "BFHPhFe3IAMF95g=",
                "connectionId": "BFHPhfCWIAMCKlQ=",
                "apiId": "asasasas",
            },
            "isBase64Encoded": False,
        },
        "an API Gateway WebSocket event (requestContext.connectionId, routeKey $connect)",
    ),
    # aws-lambda-go events/testdata/apigw-websocket-request.json: a WebSocket event with
    # httpMethod and path, which used to be served as a REST request.
    "apigw-websocket-request.json (aws-lambda-go)": (
        {
            "resource": "/predict",
            "path": "/predict",
            "httpMethod": "POST",
            "headers": {"Host": "xxx.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {
                "requestId": "x",
                "connectionId": "TWegAcC4EowCHnA=",
                "eventType": "CONNECT",
                "routeKey": "$connect",
                "stage": "testStage",
            },
            "body": "",
            "isBase64Encoded": False,
        },
        "an API Gateway WebSocket event (requestContext.connectionId, routeKey $connect)",
    ),
    "kafkaEventMsk.json": (
        {
            "eventSource": "aws:kafka",
            "eventSourceArn": "arn:aws:kafka:us-east-1:0123456789019:cluster/SalesCluster/abcd",
            "bootstrapServers": "b-2.demo-cluster-1.a1bcde.c1.kafka.us-east-1.amazonaws.com:9092",
            "records": {"mytopic-0": [{"topic": "mytopic", "partition": 0, "offset": 15}]},
        },
        "an MSK (Kafka) event (eventSource aws:kafka)",
    ),
    "apiGatewayAuthorizerTokenEvent.json": (
        {
            "type": "TOKEN",
            "authorizationToken": "allow",
            "methodArn": "arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/*/GET/",
        },
        "an API Gateway Lambda authorizer event (type TOKEN, methodArn)",
    ),
    # A REST REQUEST authorizer's event has httpMethod, path and requestContext: it looks
    # like a REST request, and used to be served as one.
    "apiGatewayAuthorizerRequestEvent.json": (
        {
            "version": "1.0",
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
            "identitySource": "user1,123",
            "resource": "/predict",
            "path": "/predict",
            "httpMethod": "POST",
            "headers": {"Accept": "*/*"},
            "requestContext": {"httpMethod": "POST", "path": "/predict", "requestId": "EXq"},
        },
        "an API Gateway Lambda authorizer event (type REQUEST, methodArn)",
    ),
    # And an HTTP API authorizer's has version 2.0 and requestContext.http.
    "apiGatewayAuthorizerV2Event.json": (
        {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request",
            "identitySource": ["user1", "123"],
            "routeKey": "POST /predict",
            "rawPath": "/predict",
            "headers": {"Authorization": "value"},
            "requestContext": {
                "http": {"method": "POST", "path": "/predict"},
                "requestId": "id",
                "routeKey": "POST /predict",
            },
        },
        "an API Gateway Lambda authorizer event (type REQUEST, routeArn)",
    ),
    "cloudfront (Lambda@Edge)": (
        {"Records": [{"cf": {"config": {"distributionId": "EDFDVBD6EXAMPLE"}, "request": {}}}]},
        "a CloudFront (Lambda@Edge) event",
    ),
    "empty": ({}, "an empty event"),
    "a list": ([1, 2], "not an object"),
    "unknown": ({"k" * 100_000: 1, "other": 2}, "an event with keys"),
}


@pytest.fixture(scope="module")
def function(example_store: Path) -> PredictFunction:
    return build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"})


@pytest.fixture(scope="module")
def flask_handler(example_store: Path) -> Any:
    service = PredictionService.from_settings(
        Settings.from_mapping({"SLIPWAY_STORE": str(example_store)})
    )
    return make_handler(create_app(service), service.model_headers)


@pytest.mark.parametrize("which", ["predict", "flask"])
@pytest.mark.parametrize("name", sorted(NON_HTTP))
def test_a_non_http_event_is_an_error_naming_it(
    function: PredictFunction, flask_handler: Any, which: str, name: str
) -> None:
    event, says = NON_HTTP[name]
    handler = function if which == "predict" else flask_handler
    with pytest.raises(UnsupportedEvent) as caught:
        handler(copy.deepcopy(event), CTX)
    message = str(caught.value)
    assert message.startswith("this function answers API Gateway"), message
    assert says in message, message
    assert len(message) < 400  # the unknown event's 100 000-character key is cut


@pytest.mark.parametrize("which", ["predict", "flask"])
@pytest.mark.parametrize("kind", sorted(ALB))
def test_alb_events_are_served(
    function: PredictFunction, flask_handler: Any, example_manifest: Any, which: str, kind: str
) -> None:
    handler = function if which == "predict" else flask_handler
    key = "multiValueHeaders" if kind == "alb-multi" else "headers"

    def call(body: str, *, b64: bool = False, method: str = "POST", path: str = "/predict"):
        event = copy.deepcopy(ALB[kind])
        event.update(body=body, isBase64Encoded=b64, httpMethod=method, path=path)
        answer = handler(event, CTX)
        headers = {k.lower(): v for k, v in (answer.get(key) or {}).items()}
        ctype = headers.get("content-type")
        assert ctype in ("application/json", ["application/json"]), (which, kind, answer)
        return answer["statusCode"], json.loads(answer["body"])

    status, body = call(json.dumps(example_manifest.example))
    assert status == 200 and body["model"] == {"name": "digits", "version": 1}
    raw = base64.b64encode(json.dumps(example_manifest.example).encode()).decode()
    assert call(raw, b64=True)[0] == 200
    assert call('{"inputs": [[1, 2]]}')[1]["error"]["code"] == "invalid_input"
    assert call("abcde", b64=True)[1]["error"]["code"] == "invalid_base64"
    status, body = call("", method="GET", path="/health")
    assert status == 200 and body["status"] == "ok"


def test_http_events_still_parse() -> None:
    for name in ("http_api_v2", "rest_api_v1", "function_url"):
        assert require_http(load_event(name)).kind in ("v1", "v2")
