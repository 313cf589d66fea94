"""What is particular to the Flask API; the shared HTTP contract is in tests/contract."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import serverless_wsgi

from functions.flask_api.app import create_app
from functions.flask_api.wsgi_lambda import make_handler
from functions.predict.config import Settings
from functions.predict.service import PredictionService
from infra import events

BODY_LIMIT = 2000


@pytest.fixture(scope="module")
def service(example_store: Path) -> PredictionService:
    env = {"SLIPWAY_STORE": str(example_store), "SLIPWAY_MAX_BODY_BYTES": str(BODY_LIMIT)}
    return PredictionService.from_settings(Settings.from_mapping(env))


@pytest.fixture(scope="module")
def handler(service: PredictionService) -> Any:
    return make_handler(create_app(service), service.model_headers)


def test_a_body_over_the_limit_is_read_and_refused_by_the_service(service) -> None:
    client = create_app(service).test_client()
    body = json.dumps({"inputs": [[0.0] * 64] * 10})  # 3 KB: over 2000, under the hard cap
    answer = client.post("/predict", data=body, content_type="application/json")
    assert answer.status_code == 413
    assert f"the body is {len(body)} bytes" in json.loads(answer.data)["error"]["message"]


def test_a_body_far_over_the_limit_is_refused_unread(service) -> None:
    client = create_app(service).test_client()
    body = b"[" * (4 * BODY_LIMIT + 1)
    answer = client.post("/predict", data=body, content_type="application/json")
    assert answer.status_code == 413
    error = json.loads(answer.data)["error"]
    assert error["code"] == "payload_too_large" and str(len(body)) in error["message"]


def test_a_chunked_body_far_over_the_limit_is_refused(service) -> None:
    # No Content-Length: Werkzeug stops reading at the cap instead.
    client = create_app(service).test_client()
    answer = client.post(
        "/predict",
        input_stream=io.BytesIO(b"[" * (10 * BODY_LIMIT)),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn sets for chunked
    )
    assert answer.status_code == 413
    assert "too large" in json.loads(answer.data)["error"]["message"]


def test_an_unexpected_failure_is_a_json_500(service) -> None:
    class Broken(PredictionService):
        def outputs(self, results: Any) -> Any:
            raise RuntimeError("a bug")

    client = create_app(Broken(service.model, service.settings)).test_client()
    body = json.dumps({"inputs": [[0.0] * 64]})
    answer = client.post("/predict", data=body, content_type="application/json")
    assert (
        answer.status_code == 500 and json.loads(answer.data)["error"]["code"] == "internal_error"
    )
    assert answer.headers["x-model-version"] == "1"


def test_serverless_wsgi_alone_would_crash_on_bad_base64(service, handler) -> None:
    """Why wsgi_lambda checks first: the bare library raises, and the invoke becomes a 502."""
    event = events.http_api_v2("POST", "/predict", headers={"content-type": "application/json"})
    event.update(body="abcde", isBase64Encoded=True)
    with pytest.raises(ValueError):  # binascii.Error
        serverless_wsgi.handle_request(create_app(service), event, None)
    answer = handler(event, None)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"]["code"] == "invalid_base64"
    assert answer["headers"]["x-model-name"] == "digits"


BUILDERS = {"v2": events.http_api_v2, "v1": events.rest_v1, "url": events.function_url}


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_a_binary_content_type_arrives_base64_and_gets_415(handler, kind: str) -> None:
    # API Gateway base64-encodes bodies of non-text types; the service still names the type.
    event = BUILDERS[kind](
        "POST",
        "/predict",
        body=b'{"inputs": [[0]]}',
        headers={"Content-Type": "application/octet-stream"},
    )
    assert event["isBase64Encoded"]
    answer = handler(event, None)
    assert answer["statusCode"] == 415 and answer["isBase64Encoded"] is False
    assert "application/octet-stream" in json.loads(answer["body"])["error"]["message"]


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_json_answers_are_text_not_base64(handler, example_manifest, kind: str) -> None:
    body = json.dumps(example_manifest.example).encode()
    event = BUILDERS[kind](
        "POST", "/predict", body=body, headers={"Content-Type": "application/json"}
    )
    answer = handler(event, None)
    assert answer["statusCode"] == 200 and answer["isBase64Encoded"] is False
    assert json.loads(answer["body"])["model"] == {"name": "digits", "version": 1}
    # serverless-wsgi answers a REST event (it has multiValueHeaders) with multiValueHeaders.
    key = "multiValueHeaders" if kind == "v1" else "headers"
    assert "x-model-version" in answer[key]


ENTRY = (
    "import json, sys; from functions.flask_api.handler import handler; "
    "print(json.dumps(handler(json.loads(sys.stdin.read()), None)))"
)


def test_the_lambda_entry_point_loads_the_model_at_import(example_store, example_manifest) -> None:
    event = events.http_api_v2(
        "POST",
        "/predict",
        body=json.dumps(example_manifest.example).encode(),
        headers={"content-type": "application/json"},
    )
    env = {**os.environ, "SLIPWAY_STORE": str(example_store)}
    run = [sys.executable, "-c", ENTRY]
    out = subprocess.run(
        run, input=json.dumps(event), env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1])["statusCode"] == 200
    bad = subprocess.run(
        run, input="{}", env={**env, "SLIPWAY_MODEL": "nope@1"}, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "cannot serve model nope@1" in bad.stderr
