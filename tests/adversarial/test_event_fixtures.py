"""Other projects' real Lambda events through both handlers (issue 11, the adversarial tier).

The events are aws-powertools' and aws-lambda-go's own test data (tests/fixtures/events/
powertools and aws-lambda-go, each with a SOURCE.md), not ours, so they carry fields and
header casings our own fixtures never thought of. Every HTTP event (REST v1, HTTP API v1
and v2, Function URL, ALB with and without multi-value headers) is sent, with only method,
path, body and Content-Type replaced, through the prediction function and the Flask Lambda
handler, in process. Every other event (SQS, S3, WebSocket, authorizers, ...) must be
refused with an error that names what it is, not a KeyError or RuntimeError traceback.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from functions.flask_api.app import create_app
from functions.flask_api.wsgi_lambda import make_handler
from functions.predict.config import Settings
from functions.predict.runtime import build
from functions.predict.service import PredictionService

# About 400 cases through two stacks: some 8 s, over the unit tier's budget.
pytestmark = pytest.mark.integration

EVENTS = Path(__file__).parents[1] / "fixtures" / "events"
SOURCES = ("powertools", "aws-lambda-go")
CTX = SimpleNamespace(aws_request_id="adversarial-1", function_name="predict")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# HTTP kinds. REST v1 and HTTP API payload 1.0 share one format (1.0 says "version": "1.0").
REST_V1, HTTP_V1, HTTP_V2, URL, ALB, ALB_MULTI = (
    "rest-v1",
    "http-v1",
    "http-v2",
    "function-url",
    "alb",
    "alb-multi",
)
V1_KINDS = {REST_V1, HTTP_V1}
HTTP_KINDS = {REST_V1, HTTP_V1, HTTP_V2, URL, ALB, ALB_MULTI}

# Each fixture's kind, from the upstream file's name and documentation. A test below checks
# that the shape of each event agrees, so a file filed under the wrong kind is caught.
KINDS: dict[str, str] = {
    "powertools/albEvent.json": ALB,
    "powertools/albMultiValueHeadersEvent.json": ALB_MULTI,
    "powertools/albMultiValueQueryStringEvent.json": ALB_MULTI,
    "powertools/apiGatewayProxyEvent.json": HTTP_V1,
    "powertools/apiGatewayProxyEvent_noVersionAuth.json": REST_V1,
    "powertools/apiGatewayProxyOtherEvent.json": HTTP_V1,
    "powertools/apiGatewayProxyV2Event.json": HTTP_V2,
    "powertools/apiGatewayProxyV2Event_GET.json": HTTP_V2,
    "powertools/apiGatewayProxyV2IamEvent.json": HTTP_V2,
    "powertools/apiGatewayProxyV2LambdaAuthorizerEvent.json": HTTP_V2,
    "powertools/lambdaFunctionUrlEvent.json": URL,
    "powertools/lambdaFunctionUrlEventWithHeaders.json": URL,
    "powertools/lambdaFunctionUrlIAMEvent.json": URL,
    "aws-lambda-go/alb-lambda-target-request-headers-only.json": ALB,
    "aws-lambda-go/alb-lambda-target-request-multivalue-headers.json": ALB_MULTI,
    "aws-lambda-go/apigw-request.json": REST_V1,
    "aws-lambda-go/apigw-restapi-openapi-request.json": REST_V1,
    "aws-lambda-go/apigw-v2-request-iam.json": HTTP_V2,
    "aws-lambda-go/apigw-v2-request-jwt-authorizer.json": HTTP_V2,
    "aws-lambda-go/apigw-v2-request-lambda-authorizer.json": HTTP_V2,
    "aws-lambda-go/apigw-v2-request-no-authorizer.json": HTTP_V2,
    "aws-lambda-go/lambda-urls-request.json": URL,
    # Not HTTP requests. Some look like one: a REQUEST authorizer event has httpMethod and
    # path, a v2 one has requestContext.http, a WebSocket $connect event has httpMethod.
    "powertools/apiGatewayAuthorizerRequestEvent.json": "authorizer",
    "powertools/apiGatewayAuthorizerTokenEvent.json": "authorizer",
    "powertools/apiGatewayAuthorizerV2Event.json": "authorizer",
    "aws-lambda-go/apigw-custom-auth-request.json": "authorizer",
    "aws-lambda-go/apigw-custom-auth-request-type-request.json": "authorizer",
    "aws-lambda-go/apigw-v2-custom-authorizer-v1-request.json": "authorizer",
    "aws-lambda-go/apigw-v2-custom-authorizer-v2-request.json": "authorizer",
    "aws-lambda-go/apigw-websocket-request.json": "websocket",
    "aws-lambda-go/apigw-websocket-request-send-message.json": "websocket",
    "aws-lambda-go/apigw-websocket-request-disconnect.json": "websocket",
    "powertools/sqsEvent.json": "sqs",
    "powertools/s3SqsEvent.json": "sqs",  # an SQS message whose body is an S3 notification
    "powertools/snsSqsEvent.json": "sqs",
    "aws-lambda-go/sqs-event.json": "sqs",
    "powertools/snsEvent.json": "sns",
    "aws-lambda-go/sns-event.json": "sns",
    "powertools/s3Event.json": "s3",
    "aws-lambda-go/s3-event.json": "s3",
    "powertools/eventBridgeEvent.json": "eventbridge",
    "powertools/s3EventBridgeNotificationObjectCreatedEvent.json": "eventbridge",
    "powertools/dynamoStreamEvent.json": "dynamodb",
    "aws-lambda-go/dynamodb-event.json": "dynamodb",
    "powertools/kinesisStreamEvent.json": "kinesis",
    "aws-lambda-go/kinesis-event.json": "kinesis",
    "powertools/cloudWatchLogEvent.json": "cloudwatch-logs",
    "aws-lambda-go/cloudwatch-logs-event.json": "cloudwatch-logs",
    "powertools/kafkaEventMsk.json": "kafka",
    "aws-lambda-go/kafka-event.json": "kafka",
    "powertools/kinesisFirehosePutEvent.json": "firehose",
    "aws-lambda-go/kinesis-firehose-event.json": "firehose",
    "powertools/sesEvent.json": "ses",
    "aws-lambda-go/ses-lambda-event.json": "ses",
    "powertools/cognitoPreSignUpEvent.json": "cognito",
    "aws-lambda-go/cognito-event-userpools-presignup.json": "cognito",
    "powertools/cloudformationCustomResourceCreate.json": "cloudformation",
    "powertools/secretsManagerEvent.json": "secrets-manager",
    "powertools/vpcLatticeEvent.json": "vpc-lattice",
    "powertools/vpcLatticeV2Event.json": "vpc-lattice",
    "powertools/bedrockAgentEvent.json": "bedrock-agent",
    "powertools/appSyncResolverEvent.json": "appsync",
    "aws-lambda-go/codepipeline-job-event.json": "codepipeline",
    "aws-lambda-go/config-event.json": "config",
    "aws-lambda-go/iot-button-event.json": "iot",
    "aws-lambda-go/lex-event.json": "lex",
    "aws-lambda-go/connect-event.json": "connect",
    "aws-lambda-go/s3-object-lambda-event-get-object-iam.json": "s3-object-lambda",
}
# The refusal of every other source must name it; these may instead be refused generically,
# saying what the function answers (HTTP events): functions/ does not recognise them by name.
GENERIC_REFUSAL = {"iot"}
# How an error message may name each source (whole words, any case): by its kind, or these.
NAMES: dict[str, tuple[str, ...]] = {
    kind: (kind,) for kind in sorted(set(KINDS.values()) - HTTP_KINDS)
} | {
    "eventbridge": ("eventbridge", "cloudwatch events"),
    "cloudwatch-logs": ("cloudwatch logs", "awslogs"),
    "kafka": ("kafka", "msk"),
    "secrets-manager": ("secrets manager", "secretsmanager"),
    "vpc-lattice": ("vpc lattice", "lattice"),
    "bedrock-agent": ("bedrock",),
    "config": ("aws config", "config rule", "config"),
    "connect": ("amazon connect", "connect"),
    "s3-object-lambda": ("s3 object lambda", "object lambda"),
}
RECORD_SOURCES = {
    "aws:sqs": "sqs",
    "aws:sns": "sns",
    "aws:s3": "s3",
    "aws:dynamodb": "dynamodb",
    "aws:kinesis": "kinesis",
    "aws:ses": "ses",
}
# The top-level fields each other source's documented event has (first match wins).
SIGNATURES: tuple[tuple[str, set[str]], ...] = (
    ("cloudwatch-logs", {"awslogs"}),
    ("eventbridge", {"detail-type", "source"}),
    ("firehose", {"deliveryStreamArn"}),
    ("cognito", {"triggerSource", "userPoolId"}),
    ("cloudformation", {"RequestType", "ResponseURL"}),
    ("secrets-manager", {"SecretId", "ClientRequestToken", "Step"}),
    ("vpc-lattice", {"raw_path"}),
    ("bedrock-agent", {"actionGroup", "agent"}),
    ("appsync", {"fieldName", "typeName"}),
    ("codepipeline", {"CodePipeline.job"}),
    ("config", {"configRuleArn"}),
    ("iot", {"clickType", "serialNumber"}),
    ("lex", {"currentIntent", "bot"}),
    ("connect", {"Name", "Details"}),
    ("s3-object-lambda", {"getObjectContext"}),
)


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def shape(event: Mapping[str, Any]) -> str:
    """The kind of `event` from its documented fields alone (AWS's and the sources' docs)."""
    ctx = event.get("requestContext")
    ctx = ctx if isinstance(ctx, Mapping) else {}
    if event.get("type") in ("TOKEN", "REQUEST") and ("methodArn" in event or "routeArn" in event):
        return "authorizer"
    if "eventType" in ctx or "connectionId" in ctx:
        return "websocket"
    if "elb" in ctx:
        return ALB_MULTI if "multiValueHeaders" in event else ALB
    if event.get("version") == "2.0" and isinstance(ctx.get("http"), Mapping):
        return URL if ".lambda-url." in str(ctx.get("domainName", "")) else HTTP_V2
    if "httpMethod" in event and "resourceId" in ctx:
        return HTTP_V1 if event.get("version") == "1.0" else REST_V1
    records = event.get("Records")
    if isinstance(records, list) and records:
        source = records[0].get("eventSource") or records[0].get("EventSource")
        return RECORD_SOURCES.get(source, f"records:{source}")
    if event.get("eventSource") in ("aws:kafka", "SelfManagedKafka"):
        return "kafka"
    if "serviceNetworkArn" in ctx:  # VPC Lattice v2; v1 has raw_path (below)
        return "vpc-lattice"
    for kind, fields in SIGNATURES:
        if fields <= set(event):
            return kind
    return "unknown"


HTTP_FIXTURES = sorted(name for name, kind in KINDS.items() if kind in HTTP_KINDS)
OTHER_FIXTURES = sorted(name for name, kind in KINDS.items() if kind not in HTTP_KINDS)


def test_every_fixture_is_classified_and_its_shape_agrees() -> None:
    on_disk = {f"{p.parent.name}/{p.name}" for s in SOURCES for p in (EVENTS / s).glob("*.json")}
    assert on_disk == set(KINDS), "a fixture file without a kind here, or a kind without a file"
    assert {name: shape(load(name)) for name in KINDS} == KINDS


def test_each_fixture_is_upstreams_bytes_as_its_source_md_says() -> None:
    for source in SOURCES:
        text = (EVENTS / source / "SOURCE.md").read_text()
        assert re.search(r"Commit: `[0-9a-f]{40}`", text) and "Licence:" in text, source
        for path in (EVENTS / source).glob("*.json"):
            data = path.read_bytes()
            # git's blob id: what `git hash-object` gives, and upstream's tree records.
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            assert re.search(
                rf"^\| `{re.escape(path.name)}` \| `[^`]+` \| `{blob}` \|$", text, re.M
            ), f"{source}/{path.name} is not listed in SOURCE.md with its bytes' blob {blob}"


# -- the two handlers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(example_store: Path) -> dict[str, str]:
    return {"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"}


@pytest.fixture(scope="module")
def predict_handler(env: dict[str, str]) -> Handler:
    return build(env)


@pytest.fixture(scope="module")
def flask_handler(env: dict[str, str]) -> Handler:
    service = PredictionService.from_settings(Settings.from_mapping(env))
    return make_handler(create_app(service), service.model_headers)


@pytest.fixture(params=["predict", "flask"])
def handler(request: pytest.FixtureRequest) -> Handler:
    handler: Handler = request.getfixturevalue(f"{request.param}_handler")
    return handler


@pytest.fixture(scope="module")
def expected(example_store: Path, example_manifest: Any) -> dict[str, Any]:
    """The example's outputs from onnxruntime itself, not through any of our code."""
    session = ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))
    rows = np.asarray(example_manifest.example["inputs"], dtype=np.float32)
    labels, probabilities = session.run(None, {"input": rows})
    return {"label": labels.tolist(), "probabilities": probabilities}


# -- requests made from a fixture ------------------------------------------------------------


def _set_header(headers: dict[str, Any] | None, name: str, value: Any) -> None:
    """Replace `name` whatever its case in the fixture (REST keeps the client's casing)."""
    if headers is None:
        return
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]
    if value is not None:
        headers[name] = value


def _decoded_length(body: str, b64: bool) -> int:
    if not b64:
        return len(body.encode())
    try:
        return len(base64.b64decode(body, validate=True))
    except ValueError:  # the bad-base64 case: the handler, not this helper, must refuse it
        return len(body)


def as_request(
    name: str,
    method: str,
    path: str,
    body: str | None = None,
    *,
    content_type: str | None = "application/json",
    b64: bool = False,
) -> dict[str, Any]:
    """The fixture with its method, path, body and Content-Type replaced; all else kept."""
    kind = KINDS[name]
    event = copy.deepcopy(load(name))
    event["body"] = body
    event["isBase64Encoded"] = b64
    # A fixture's Content-Length describes its own body; API Gateway's matches the new one.
    length = None if body is None else str(_decoded_length(body, b64))
    if kind in (HTTP_V2, URL):
        event["requestContext"]["http"].update(method=method, path=path)
        event["rawPath"] = path
        if event.get("routeKey", "$default") != "$default":
            event["routeKey"] = f"{method} {path}"
        _set_header(event["headers"], "content-type", content_type)
        if "content-length" in {k.lower() for k in event["headers"]}:
            _set_header(event["headers"], "content-length", length)
        return event
    event["httpMethod"] = method
    event["path"] = path
    if "resource" in event:
        event["resource"] = path
    if kind in V1_KINDS:
        event["requestContext"].update(httpMethod=method, resourcePath=path)
    header = "Content-Type" if kind in V1_KINDS else "content-type"  # ALB lower-cases
    _set_header(event.get("headers"), header, content_type)
    multi = event.get("multiValueHeaders")
    _set_header(multi, header, None if content_type is None else [content_type])
    return event


# -- what a valid integration result is, per event source -------------------------------------

# API Gateway REST and HTTP API payload 1.0 (the Lambda proxy integration's output format).
V1_RESULT = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
# HTTP API payload 2.0 and Function URLs (Function URLs take the same response format).
V2_RESULT = {"statusCode", "headers", "cookies", "body", "isBase64Encoded"}
# ALB: statusDescription ("200 OK") besides; with multi-value headers on, the target group
# reads multiValueHeaders only, without them headers only (ELB's "Respond to the load
# balancer", as Mangum's ALB handler and serverless-wsgi answer).
ALB_RESULT = V1_RESULT | {"statusDescription"}


def check_result(kind: str, result: Any) -> dict[str, str]:
    """Assert `result` is a valid answer to a `kind` event; its headers, lower-case keys."""
    assert isinstance(result, dict), result
    allowed = V2_RESULT if kind in (HTTP_V2, URL) else ALB_RESULT if "alb" in kind else V1_RESULT
    assert set(result) <= allowed, f"fields {set(result) - allowed} are not in a {kind} result"
    assert isinstance(result["statusCode"], int)
    assert isinstance(result.get("body"), str)
    assert result.get("isBase64Encoded") is False, "JSON answers are text, never base64"
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in single.items())
    assert all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in multi.values())
    if "cookies" in result:
        assert isinstance(result["cookies"], list)
    if "statusDescription" in result:
        status = result["statusCode"]
        assert result["statusDescription"] == f"{status} {HTTPStatus(status).phrase}"
    # Where the source reads headers from: ALB one field by its setting, API Gateway both.
    if kind == ALB_MULTI:
        read = {k.lower(): ",".join(v) for k, v in multi.items()}
    elif kind == ALB:
        read = {k.lower(): v for k, v in single.items()}
    else:
        read = {k.lower(): v for k, v in single.items()}
        read.update({k.lower(): ",".join(v) for k, v in multi.items()})
    assert read.get("content-type", "").startswith("application/json"), (kind, result)
    return read


def check_error(result: dict[str, Any], status: int, code: str) -> None:
    assert result["statusCode"] == status, result
    body = json.loads(result["body"])
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message"}
    assert body["error"]["status"] == status and body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


# -- HTTP events -----------------------------------------------------------------------------


# Upstream's body marked base64 that is not ("Hello from Lambda!"): refused before routing.
NOT_BASE64 = {"powertools/apiGatewayProxyEvent_noVersionAuth.json"}


@pytest.mark.parametrize("name", HTTP_FIXTURES)
def test_the_event_as_upstream_has_it(handler: Handler, name: str) -> None:
    # Their own routes (/my/path, /hello/world, /lambda...), bodies, cookies and query strings.
    result = handler(load(name), CTX)
    check_result(KINDS[name], result)
    check_error(result, *((400, "invalid_base64") if name in NOT_BASE64 else (404, "not_found")))


@pytest.mark.parametrize("b64", [False, True], ids=["text", "base64"])
@pytest.mark.parametrize("name", HTTP_FIXTURES)
def test_a_good_predict_request(
    handler: Handler, example_manifest: Any, expected: dict[str, Any], name: str, b64: bool
) -> None:
    body = json.dumps(example_manifest.example)
    if b64:
        body = base64.b64encode(body.encode()).decode()
    result = handler(as_request(name, "POST", "/predict", body, b64=b64), CTX)
    headers = check_result(KINDS[name], result)
    assert result["statusCode"] == 200, result
    assert headers["x-model-name"] == "digits" and headers["x-model-version"] == "1"
    answer = json.loads(result["body"])
    assert answer["model"] == {"name": "digits", "version": 1}
    assert answer["outputs"]["label"] == expected["label"]
    np.testing.assert_allclose(answer["outputs"]["probabilities"], expected["probabilities"], 1e-6)


BAD = [
    # (case, body, base64, status, code)
    ("malformed JSON", '{"inputs": [[1, 2', False, 400, "invalid_json"),
    ("wrong shape", json.dumps({"inputs": [[1.0] * 63]}), False, 422, "invalid_input"),
    ("bad base64", "eyJpbnB1dHMiOi=", True, 400, "invalid_base64"),
]


@pytest.mark.parametrize(("case", "body", "b64", "status", "code"), BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("name", HTTP_FIXTURES)
def test_a_bad_body_gets_its_json_error(
    handler: Handler,
    name: str,
    case: str,
    body: str,
    b64: bool,
    status: int,
    code: str,
) -> None:
    result = handler(as_request(name, "POST", "/predict", body, b64=b64), CTX)
    headers = check_result(KINDS[name], result)
    check_error(result, status, code)
    assert headers["x-model-name"] == "digits"


@pytest.mark.parametrize("name", HTTP_FIXTURES)
def test_health(handler: Handler, name: str) -> None:
    result = handler(as_request(name, "GET", "/health", content_type=None), CTX)
    check_result(KINDS[name], result)
    assert result["statusCode"] == 200, result
    body = json.loads(result["body"])
    assert body["status"] == "ok" and body["model"]["name"] == "digits"


@pytest.mark.parametrize("name", HTTP_FIXTURES)
def test_an_unknown_path_is_a_json_404(handler: Handler, name: str) -> None:
    result = handler(as_request(name, "GET", "/no/such/route", content_type=None), CTX)
    check_result(KINDS[name], result)
    check_error(result, 404, "not_found")


# -- events that are not HTTP requests --------------------------------------------------------

# A handler that does not know an event may not fall over inside a library with these; a
# refusal is any other exception (Lambda reports its type and message to the caller).
TRACEBACKS = (KeyError, AttributeError, RuntimeError, TypeError, IndexError)


@pytest.mark.parametrize("name", OTHER_FIXTURES)
def test_an_event_that_is_not_http_is_refused_by_name(handler: Handler, name: str) -> None:
    event = load(name)  # as the source sends it: nothing replaced
    try:
        result = handler(event, CTX)
    except TRACEBACKS as exc:
        pytest.fail(f"{name}: a {type(exc).__name__} traceback, not a refusal: {exc}")
    except Exception as exc:
        message = str(exc)
    else:
        pytest.fail(f"{name} was answered as if it were an HTTP request: {result!r}")
    kind = KINDS[name]
    names = (*NAMES[kind], "HTTP") if kind in GENERIC_REFUSAL else NAMES[kind]
    assert any(re.search(rf"\b{re.escape(n)}\b", message, re.IGNORECASE) for n in names), (
        f"{name}: the error does not name the event ({' or '.join(names)}): {message}"
    )
