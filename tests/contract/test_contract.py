"""The prediction API's HTTP contract, run against every target in conftest.TARGETS.

The same requests must give the same statuses, error codes and predictions whether the
FastAPI function, the Flask function through serverless-wsgi, or gunicorn answers.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from functions.predict import messages
from tests.contract.clients import Answer, Client
from tests.functions.predict.test_handler import BAD_REQUESTS

MODEL_HEADERS = {"x-model-name": "digits", "x-model-version": "1"}


def assert_json(answer: Answer) -> None:
    assert answer.headers["content-type"] == "application/json", answer.headers


def assert_error(answer: Answer, status: int, code: str, min_message: int = 10) -> None:
    assert answer.status == status, answer.body[:300]
    assert_json(answer)
    error = answer.json()["error"]
    assert error["status"] == status and error["code"] == code, error
    assert len(error["message"]) >= min_message, error


@pytest.fixture(scope="module")
def onnx_session(example_store: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))


@pytest.mark.parametrize("batch", [1, 64])
def test_predictions_equal_onnxruntime_run_directly(
    client: Client, onnx_session: Any, digits_test_rows: Any, batch: int
) -> None:
    rows = digits_test_rows[:batch]
    want_labels, want_proba = onnx_session.run(None, {"input": rows.astype(np.float32)})
    answer = client.request("POST", "/predict", json.dumps({"inputs": rows.tolist()}))
    assert answer.status == 200, answer.body[:300]
    assert_json(answer)
    assert MODEL_HEADERS.items() <= answer.headers.items()
    body = answer.json()
    assert body["model"] == {"name": "digits", "version": 1}
    assert body["outputs"]["label"] == want_labels.tolist()
    np.testing.assert_allclose(body["outputs"]["probabilities"], want_proba, rtol=1e-6)


def test_a_base64_encoded_body_is_decoded(client: Client, example_manifest: Any) -> None:
    if not client.supports_base64:
        pytest.skip("only Lambda events carry base64-encoded bodies")
    raw = base64.b64encode(json.dumps(example_manifest.example).encode()).decode()
    answer = client.request("POST", "/predict", raw, b64=True)
    assert answer.status == 200, answer.body[:300]
    assert len(answer.json()["outputs"]["label"]) == 1


@pytest.mark.parametrize(
    ("what", "body", "ctype", "b64", "status", "code"),
    BAD_REQUESTS,
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_input_gets_the_same_4xx(
    client: Client, what: str, body: str, ctype: str, b64: bool, status: int, code: str
) -> None:
    if b64 and not client.supports_base64:
        pytest.skip("only Lambda events carry base64-encoded bodies")
    answer = client.request("POST", "/predict", body, ctype, b64)
    assert_error(answer, status, code)
    assert MODEL_HEADERS.items() <= answer.headers.items(), (what, answer.headers)


def test_a_missing_content_type_is_taken_as_json(client: Client, example_manifest: Any) -> None:
    answer = client.request("POST", "/predict", json.dumps(example_manifest.example), None)
    assert answer.status == 200, answer.body[:300]


def test_health(client: Client) -> None:
    answer = client.request("GET", "/health")
    assert answer.status == 200
    assert_json(answer)
    body = answer.json()
    # On Cloud Run (the image's HTTP mode under its variables) the revision is named too.
    cloud_run = {"service", "revision", "configuration"} if client.name == "image-http" else set()
    assert set(body) == {"status", "model"} | cloud_run
    assert {k: body[k] for k in ("status", "model")} == {
        "status": "ok",
        "model": {"name": "digits", "version": 1},
    }
    if cloud_run:
        assert body["revision"] == "slipway-predict-local"


def test_model_is_the_public_manifest(client: Client, example_manifest: Any) -> None:
    answer = client.request("GET", "/model")
    assert answer.status == 200
    assert_json(answer)
    model = answer.json()
    assert model == json.loads(json.dumps(example_manifest.public_dict()))
    assert model["sha256"] == example_manifest.sha256 and "example" not in model


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("POST", "/predict/extra")])
def test_unknown_route_is_a_json_404(client: Client, method: str, path: str) -> None:
    # FastAPI's routing errors say only "Not Found": a message, but a short one.
    assert_error(client.request(method, path), 404, "not_found", min_message=1)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/predict"), ("PUT", "/predict"), ("POST", "/health")]
)
def test_wrong_method_is_a_json_405(client: Client, method: str, path: str) -> None:
    answer = client.request(method, path, body=None)
    assert_error(answer, 405, "method_not_allowed", min_message=1)
    assert answer.headers.get("allow"), answer.headers


def test_every_target_answers_alike(
    every_client: list[Client], example_manifest: Any, digits_test_rows: Any
) -> None:
    """Same bytes for every prediction and service error; same status for everything."""
    requests = [
        ("POST", "/predict", json.dumps(example_manifest.example), "application/json"),
        ("POST", "/predict", json.dumps({"inputs": digits_test_rows[:64].tolist()}), None),
        *[("POST", "/predict", case[1], case[2]) for case in BAD_REQUESTS if not case[3]],
        ("GET", "/health", None, None),
        ("GET", "/model", None, None),
    ]
    for method, path, body, ctype in requests:
        answers = {c.name: c.request(method, path, body, ctype) for c in every_client}
        first = next(iter(answers.values()))
        for name, answer in answers.items():
            assert answer.status == first.status, (name, path, (body or "")[:60])
            got = answer.json()
            if path == "/health":  # Cloud Run's revision names are the image's own addition
                got = {k: v for k, v in got.items() if k in first.json()}
            assert got == first.json(), (name, path, (body or "")[:60])
    for method, path in [("GET", "/nope"), ("GET", "/predict")]:
        statuses = {c.name: c.request(method, path).status for c in every_client}
        assert len(set(statuses.values())) == 1, statuses


def test_routing_errors_are_the_same_bytes_everywhere(every_client: list[Client]) -> None:
    # The contract words 404 and 405 itself, so the frameworks' own texts do not leak through.
    for method, path in [("GET", "/nope"), ("POST", "/predict/extra"), ("POST", "/health")]:
        answers = {c.name: c.request(method, path) for c in every_client}
        bodies = {name: answer.json() for name, answer in answers.items()}
        assert len({json.dumps(b, sort_keys=True) for b in bodies.values()}) == 1, bodies
        assert path in next(iter(bodies.values()))["error"]["message"]


def test_a_long_error_message_is_cut_alike(every_client: list[Client]) -> None:
    # The message names the unknown fields: 3000 of them would make a body of 40 KB. Since
    # issue 11 the quote is cut at the source, saying how much, well under the message cap.
    payload = {"inputs": [[0.0] * 64], **{f"field{i}": 0 for i in range(3000)}}
    answers = {c.name: c.request("POST", "/predict", json.dumps(payload)) for c in every_client}
    for name, answer in answers.items():
        assert_error(answer, 422, "invalid_input")
        message = answer.json()["error"]["message"]
        assert len(message) < messages.QUOTE_CHARS + 100, (name, message)
        assert "unknown fields (3000): ['field0'" in message, name
        assert "more characters)" in message, name
    assert len({answer.body for answer in answers.values()}) == 1


BASE64_CASES = [
    # (what, body, content type, status, code): base64 is judged before the Content-Type
    ("invalid base64, not JSON", "abcde", "text/plain", 400, "invalid_base64"),
    ("out-of-alphabet base64", "e30=!", "application/json", 400, "invalid_base64"),
    ("valid base64, not JSON", base64.b64encode(b"{}").decode(), "text/plain", 415, None),
]


@pytest.mark.parametrize(
    ("what", "body", "ctype", "status", "code"), BASE64_CASES, ids=[c[0] for c in BASE64_CASES]
)
def test_base64_bodies_are_judged_alike(
    every_client: list[Client], what: str, body: str, ctype: str, status: int, code: str | None
) -> None:
    answers = {
        c.name: c.request("POST", "/predict", body, ctype, b64=True)
        for c in every_client
        if c.supports_base64
    }
    assert len(answers) == 6
    for name, answer in answers.items():
        assert_error(answer, status, code or "unsupported_media_type")
        assert MODEL_HEADERS.items() <= answer.headers.items(), (name, answer.headers)
    assert len({answer.body for answer in answers.values()}) == 1, what
