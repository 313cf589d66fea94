from __future__ import annotations

import base64
import json

from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from infra import events
from infra.local.apigw import from_lambda, gateway_error


def test_structured_result_with_cookies_and_headers() -> None:
    payload = {"statusCode": 201, "headers": {"X-A": "1"}, "cookies": ["a=1", "b=2"], "body": "hi"}
    r = from_lambda(json.dumps(payload).encode())
    assert r.status == 201 and r.body == b"hi"
    assert ("set-cookie", "a=1") in r.headers and ("set-cookie", "b=2") in r.headers
    assert ("X-A", "1") in r.headers and ("content-type", "application/json") in r.headers


def test_base64_body_is_decoded() -> None:
    payload = {
        "statusCode": 200,
        "isBase64Encoded": True,
        "body": base64.b64encode(b"\x00\xff").decode(),
    }
    assert from_lambda(json.dumps(payload).encode()).body == b"\x00\xff"
    bad = {"statusCode": 200, "isBase64Encoded": True, "body": "***"}
    assert from_lambda(json.dumps(bad).encode()).status == 502


def test_results_without_status_code_are_200_json() -> None:
    assert from_lambda(b'"plain"').body == b"plain"
    r = from_lambda(b'{"hello": "world"}')
    assert r.status == 200 and json.loads(r.body) == {"hello": "world"}


def test_invalid_results_are_502() -> None:
    assert from_lambda(b"not json").status == 502
    assert from_lambda(b'{"statusCode": "abc"}').status == 502
    assert from_lambda(b'{"statusCode": 42}').status == 502


def test_gateway_errors_are_json() -> None:
    r = gateway_error(429, "Too Many Requests")
    assert r.status == 429 and json.loads(r.body) == {"message": "Too Many Requests"}


def test_built_events_validate_against_powertools_model() -> None:
    event = events.http_api_v2(
        "POST",
        "/predict",
        body=b'{"inputs": [[1]]}',
        headers={"Content-Type": "application/json", "Cookie": "a=1; b=2", "User-Agent": "t"},
        query="x=1&x=2&y=3",
    )
    model = APIGatewayProxyEventV2Model(**event)
    assert model.cookies == ["a=1", "b=2"] and model.queryStringParameters == {"x": "1,2", "y": "3"}
    assert model.requestContext.http.method == "POST" and not model.isBase64Encoded
    binary = events.http_api_v2(
        "POST", "/x", body=b"\x00\xff", headers={"content-type": "application/octet-stream"}
    )
    assert APIGatewayProxyEventV2Model(**binary).isBase64Encoded
    assert base64.b64decode(binary["body"]) == b"\x00\xff"
