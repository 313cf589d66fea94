"""The HTTP contract's rules on their own; tests/contract runs them against every front end."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from mangum import Mangum

from functions.flask_api.wsgi_lambda import refuse_before_app
from functions.predict import body as contract_body
from functions.predict import errors, limits, messages
from functions.predict.adapters import source_for
from functions.predict.adapters.payload import body_of
from functions.predict.app import create_app
from functions.predict.exceptions import (
    HTTPError,
    InvalidBase64,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from functions.predict.exchange import Answer, Request
from functions.predict.runtime import PredictFunction, build
from tests.conftest import load_event
from tests.functions.predict.test_handler import CTX, KINDS

MODEL_HEADERS = {"x-model-name": "digits", "x-model-version": "1"}


@pytest.fixture(scope="module")
def function(example_store: Path) -> PredictFunction:
    return build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"})


@pytest.mark.parametrize(
    "ct",
    [None, "", "application/json", "application/json; charset=utf-8", "application/vnd.api+json"],
)
def test_json_content_types_pass(ct: str | None) -> None:
    contract_body.check_content_type(ct)


@pytest.mark.parametrize(
    "ct", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_other_content_types_are_415(ct: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="application/json"):
        contract_body.check_content_type(ct)


def read(body: str | None, b64: bool, limit: int, ctype: str | None = "application/json") -> bytes:
    """What the dispatcher reads of a body an event source took from an event."""
    raw, refused = body_of({"body": body, "isBase64Encoded": b64})
    headers = {"content-type": ctype} if ctype is not None else {}
    return contract_body.read(Request("POST", "/predict", headers, raw, body_error=refused), limit)


def test_decode_body_limits_and_base64() -> None:
    assert read('{"a":1}', False, 100) == b'{"a":1}'
    assert read(base64.b64encode(b"[1]").decode(), True, 100) == b"[1]"
    with pytest.raises(InvalidBase64):
        read("***not base64***", True, 100)
    with pytest.raises(PayloadTooLarge, match="limit is 10 bytes"):
        read("x" * 11, False, 10)
    with pytest.raises(PayloadTooLarge):
        read(base64.b64encode(b"x" * 1000).decode(), True, 10)


def test_base64_then_content_type_then_size() -> None:
    # The order Mangum and serverless-wsgi impose by decoding base64 before any app runs.
    with pytest.raises(InvalidBase64):
        read("abcde", True, 2, ctype="text/plain")
    with pytest.raises(UnsupportedMediaType):
        read("x" * 11, False, 10, ctype="text/plain")
    assert read("", False, 10) == b""
    assert read(None, True, 10, ctype=None) == b""


def refusal(event: dict[str, Any]) -> dict[str, Any] | None:
    return refuse_before_app(event, MODEL_HEADERS)


def test_strict_base64_check() -> None:
    good = base64.b64encode(b'{"inputs": []}').decode()
    assert refusal({"isBase64Encoded": True, "body": good}) is None
    assert refusal({"isBase64Encoded": False, "body": "%%%"}) is None
    assert refusal({"isBase64Encoded": True, "body": None}) is None
    # Characters outside the alphabet: serverless-wsgi would drop them silently.
    assert refusal({"isBase64Encoded": True, "body": good[:4] + "!" + good[4:]})
    assert refusal({"isBase64Encoded": True, "body": "abcde"})  # bad padding


@pytest.mark.parametrize("kind", KINDS)
def test_a_refusal_is_a_400_in_the_events_format(kind: str) -> None:
    event = load_event(kind)
    event.update(body="abcde", isBase64Encoded=True)
    result = refusal(event)
    assert result is not None and result["statusCode"] == 400
    assert ("multiValueHeaders" in result) == (kind == "rest_api_v1")
    assert json.loads(result["body"])["error"]["code"] == "invalid_base64"
    assert MODEL_HEADERS.items() <= result["headers"].items()


def test_error_messages_are_bounded() -> None:
    short = json.loads(errors.error_body(PayloadTooLarge("too big")))
    assert short == {"error": {"status": 413, "code": "payload_too_large", "message": "too big"}}
    long = json.loads(errors.error_body(PayloadTooLarge("x" * 50_000)))["error"]["message"]
    # The cut says how much it dropped (issue 11): 50 000 - 974 kept.
    assert len(long) == messages.MAX_MESSAGE_CHARS and long.endswith("… (49 026 more characters)")
    schema = errors.ERROR_SCHEMA["properties"]["error"]["properties"]["message"]
    assert schema["maxLength"] == messages.MAX_MESSAGE_CHARS
    exact = "y" * messages.MAX_MESSAGE_CHARS
    assert json.loads(errors.error_body(HTTPError(exact)))["error"]["message"] == exact


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (404, "not_found"),
        (405, "method_not_allowed"),
        (413, "payload_too_large"),
        (500, "internal_error"),
        (418, "http_error"),
    ],
)
def test_framework_statuses_have_one_code(status: int, code: str) -> None:
    err = errors.framework_error(status, "PUT", "/predict", "the framework's words")
    assert (err.status, err.code) == (status, code)
    if status == 404:
        assert "/predict" in err.message and "GET /health" in err.message
    elif status == 405:
        assert err.message == "PUT is not allowed on /predict"
    else:
        assert err.message == "the framework's words"


def test_size_limits() -> None:
    limits.check_body_size(10, 10)
    with pytest.raises(PayloadTooLarge, match="the body is 11 bytes; the limit is 10 bytes"):
        limits.check_body_size(11, 10)
    assert "the body is too large" in limits.body_too_large(None, 10).message
    limits.check_batch("input 'x'", 4, 4)
    with pytest.raises(PayloadTooLarge, match="has 5 rows; the batch limit is 4"):
        limits.check_batch("input 'x'", 5, 4)
    limits.check_response_size(limits.MAX_RESPONSE_BYTES, 7)
    with pytest.raises(PayloadTooLarge, match="response for 7 rows"):
        limits.check_response_size(limits.MAX_RESPONSE_BYTES + 1, 7)
    assert limits.MAX_RESPONSE_BYTES < limits.LAMBDA_PAYLOAD_LIMIT
    assert limits.unread_cap(1000) == 4000


ANSWERS = [
    # (status, body, headers): what the service and the frameworks answer with
    (200, b'{"outputs": {"label": [3]}, "model": {"name": "digits", "version": 1}}', MODEL_HEADERS),
    (413, errors.error_body(PayloadTooLarge("x" * 5000)), MODEL_HEADERS),  # ends with "…"
    (
        405,
        errors.error_body(errors.framework_error(405, "GET", "/predict", "")),
        {"allow": "POST"},
    ),
]


_ALB_BASE: dict[str, Any] = {
    # After powertools-lambda-python tests/events/albEvent.json and
    # albMultiValueHeadersEvent.json (commit 38f1d925d7bd9579ad5c37f659a15dec1911720d).
    "requestContext": {
        "elb": {
            "targetGroupArn": "arn:aws:elasticloadbalancing:eu-central-1:1234567890:"
            "targetgroup/alb-c-Targe-11GDXTPQ7663S/804a67588bfdc10f"
        }
    },
    "httpMethod": "POST",
    "path": "/predict",
    "body": "",
    "isBase64Encoded": False,
}
_ALB_HEADERS = {"content-type": "application/json", "host": "alb.example.com"}
# A target group sends either headers or, with multi-value headers on, multiValueHeaders.
ALB = {
    "alb": {**_ALB_BASE, "queryStringParameters": {}, "headers": _ALB_HEADERS},
    "alb-multi": {
        **_ALB_BASE,
        "multiValueQueryStringParameters": {},
        "multiValueHeaders": {k: [v] for k, v in _ALB_HEADERS.items()},
    },
}


@pytest.mark.parametrize("kind", [*KINDS, *sorted(ALB)])
@pytest.mark.parametrize(("status", "body", "headers"), ANSWERS, ids=["200", "413", "405"])
def test_the_result_mapping_is_mangums(
    function: PredictFunction, kind: str, status: int, body: bytes, headers: dict[str, str]
) -> None:
    """Each event source writes what Mangum's handler class for that event gives."""
    event = ALB[kind] if kind in ALB else load_event(kind)
    adapter = Mangum(create_app(function.service, function.dispatch), lifespan="off")
    mangum_handler = adapter.infer(event, CTX)
    answer = Answer(status, body, {"content-type": "application/json", **headers})
    sent = {"content-length": str(len(body)), **answer.headers}
    raw = [[k.encode(), v.encode()] for k, v in sent.items()]
    want = mangum_handler({"status": status, "headers": raw, "body": body})
    source = source_for(event)
    assert source is not None
    assert source.write(answer) == want


# -- issue 11: what the contract quotes from the client is bounded --------------------------


def test_a_long_content_type_path_or_method_is_quoted_bounded() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        contract_body.check_content_type("text/" + "x" * 100_000)
    said = [caught.value.message]
    said.append(errors.framework_error(404, "GET", "/" + "p" * 100_000, "").message)
    said.append(errors.framework_error(405, "M" * 100_000, "/predict", "").message)
    for message in said:
        assert len(message) < messages.QUOTE_CHARS + 100 and "more characters)" in message


def test_base64_accepts_and_refuses_what_the_standard_librarys_strict_mode_does() -> None:
    """pybase64 decodes; on its refusal the standard library decides (it accepts excess '=')."""
    import binascii
    import random

    from functions.predict.exceptions import InvalidBase64

    rng = random.Random()  # another seed each run
    alphabet = "ABCXYZabcxyz0189+/=\n -_é"
    cases = ["", "YWJj", "YWJj=", "YWJjZA==", "YWJjZA=", "YQ", "=YWJj", "YWJjZA==YQ==", "Ã©"]
    cases += [base64.b64encode(rng.randbytes(rng.randrange(0, 40))).decode() for _ in range(200)]
    cases += ["".join(rng.choices(alphabet, k=rng.randrange(0, 12))) for _ in range(2000)]
    for text in cases:
        try:
            want: bytes | None = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            want = None
        try:
            got: bytes | None = contract_body.decode_base64(text)
        except InvalidBase64:
            got = None
        assert got == want, text
        data = rng.randbytes(rng.randrange(0, 50))
        assert contract_body.encode_base64(data) == base64.b64encode(data).decode()
