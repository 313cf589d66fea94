from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from functions.predict.exceptions import ConfigError, ModelInitError
from functions.predict.runtime import PredictFunction, build

KINDS = ["http_api_v2", "rest_api_v1", "function_url"]
CTX = SimpleNamespace(aws_request_id="req-1", function_name="predict")


@pytest.fixture(scope="module")
def function(example_store: Path) -> PredictFunction:
    return build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_MAX_BATCH": "100"})


def body_of(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in response["headers"].items()}


@pytest.mark.parametrize("kind", KINDS)
def test_predict_with_each_event_format(function, make_event, example_manifest, kind: str) -> None:
    response = function(make_event(kind, body=json.dumps(example_manifest.example)), CTX)
    assert response["statusCode"] == 200, response
    body = body_of(response)
    assert body["model"] == {"name": "digits", "version": 1}
    assert set(body["outputs"]) == {"label", "probabilities"}
    assert len(body["outputs"]["probabilities"][0]) == 10
    headers = headers_of(response)
    assert headers["x-model-name"] == "digits" and headers["x-model-version"] == "1"
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("batch", [1, 64])
def test_labels_equal_onnxruntime_directly(
    function, make_event, example_store, digits_test_rows, batch: int
) -> None:
    rows = digits_test_rows[:batch]
    session = ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))
    want_labels, want_proba = session.run(None, {"input": rows.astype(np.float32)})
    response = function(make_event(body=json.dumps({"inputs": rows.tolist()})), CTX)
    out = body_of(response)["outputs"]
    assert out["label"] == want_labels.tolist()
    np.testing.assert_allclose(out["probabilities"], want_proba, rtol=1e-6)


def test_base64_encoded_body(function, make_event, example_manifest) -> None:
    raw = base64.b64encode(json.dumps(example_manifest.example).encode()).decode()
    response = function(make_event(body=raw, b64=True), CTX)
    assert response["statusCode"] == 200


ROW = [0.0] * 64
BAD_REQUESTS = [
    # (description, body, content type, base64, status, error code)
    ("malformed JSON", '{"inputs": [[1, 2', "application/json", False, 400, "invalid_json"),
    ("non-object body", "[[1, 2, 3]]", "application/json", False, 422, "invalid_input"),
    (
        "wrong shape",
        json.dumps({"inputs": [[1.0] * 63]}),
        "application/json",
        False,
        422,
        "invalid_input",
    ),
    (
        "strings",
        json.dumps({"inputs": [["a"] * 64]}),
        "application/json",
        False,
        422,
        "invalid_input",
    ),
    (
        "wrong dtype: booleans",
        json.dumps({"inputs": [[True] * 64]}),
        "application/json",
        False,
        422,
        "invalid_input",
    ),
    (
        "NaN",
        '{"inputs": [[NaN' + ", 0" * 63 + "]]}",
        "application/json",
        False,
        422,
        "invalid_input",
    ),
    (
        "Infinity",
        '{"inputs": [[-Infinity' + ", 0" * 63 + "]]}",
        "application/json",
        False,
        422,
        "invalid_input",
    ),
    ("empty batch", '{"inputs": []}', "application/json", False, 422, "invalid_input"),
    (
        "batch over the limit",
        json.dumps({"inputs": [ROW] * 101}),
        "application/json",
        False,
        413,
        "payload_too_large",
    ),
    (
        "body over the limit",
        json.dumps({"inputs": [ROW] * 50_000}),
        "application/json",
        False,
        413,
        "payload_too_large",
    ),
    (
        "wrong content type",
        json.dumps({"inputs": [ROW]}),
        "text/plain",
        False,
        415,
        "unsupported_media_type",
    ),
    ("invalid base64", "%%%not-base64%%%", "application/json", True, 400, "invalid_base64"),
    ("empty body", "", "application/json", False, 400, "invalid_json"),
    # Finite float32 inputs the model computes NaN from (issue 11): once a 200 with nulls.
    (
        "non-finite output",
        json.dumps({"inputs": [[1e38] * 64]}),
        "application/json",
        False,
        422,
        "non_finite_output",
    ),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("what", "body", "ctype", "b64", "status", "code"),
    BAD_REQUESTS,
    ids=[b[0] for b in BAD_REQUESTS],
)
def test_bad_input_gets_a_clear_4xx(
    function, make_event, kind, what, body, ctype, b64, status, code
) -> None:
    response = function(make_event(kind, body=body, content_type=ctype, b64=b64), CTX)
    assert response["statusCode"] == status, (what, response["body"][:300])
    error = body_of(response)["error"]
    assert error["code"] == code and error["status"] == status
    assert len(error["message"]) > 10


@pytest.mark.parametrize("kind", KINDS)
def test_direct_path_and_fastapi_give_identical_responses(
    function, make_event, example_manifest, digits_test_rows, kind
) -> None:
    requests = [(json.dumps(example_manifest.example), "application/json", False)]
    requests.append(
        (json.dumps({"inputs": digits_test_rows[:64].tolist()}), "application/json", False)
    )
    requests.append(
        (
            base64.b64encode(json.dumps(example_manifest.example).encode()).decode(),
            "application/json",
            True,
        )
    )
    # Mangum itself raises on an invalid base64 body; the function answers 400 (tested below).
    requests += [(b[1], b[2], b[3]) for b in BAD_REQUESTS if b[0] != "invalid base64"]
    from mangum import Mangum

    from functions.predict.app import create_app

    asgi = Mangum(create_app(function.service, function.dispatch), lifespan="off")
    for body, ctype, b64 in requests:
        event = make_event(kind, body=body, content_type=ctype, b64=b64)
        direct = function(event, CTX)
        via_fastapi = asgi(event, CTX)
        assert direct == via_fastapi, (body[:80], direct["body"][:200], via_fastapi["body"][:200])


def test_invalid_base64_on_other_routes_is_400_not_a_crash(function, make_event) -> None:
    response = function(make_event(method="POST", path="/health", body="abcde", b64=True), CTX)
    assert response["statusCode"] == 400 and body_of(response)["error"]["code"] == "invalid_base64"


def test_health_model_and_openapi(function, make_event, example_manifest) -> None:
    health = function(make_event(method="GET", path="/health", body=None), CTX)
    assert health["statusCode"] == 200 and body_of(health) == {
        "status": "ok",
        "model": {"name": "digits", "version": 1},
    }
    model = body_of(function(make_event(method="GET", path="/model", body=None), CTX))
    assert model["sha256"] == example_manifest.sha256 and model["labels"] == list(range(10))
    assert "example" not in model
    spec = body_of(function(make_event(method="GET", path="/openapi.json", body=None), CTX))
    post = spec["paths"]["/predict"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    row = schema["properties"]["inputs"]["items"]
    assert (
        row["minItems"] == row["maxItems"] == 64
        and schema["properties"]["inputs"]["maxItems"] == 100
    )
    assert {"200", "400", "413", "415", "422"} <= set(post["responses"])
    docs = function(make_event(method="GET", path="/docs", body=None), CTX)
    assert docs["statusCode"] == 200 and "swagger" in docs["body"].lower()


def test_openapi_lists_each_error_code_by_status(function, make_event) -> None:
    spec = body_of(function(make_event(method="GET", path="/openapi.json", body=None), CTX))
    responses = spec["paths"]["/predict"]["post"]["responses"]

    def codes(status: str) -> list[str]:
        schema = responses[status]["content"]["application/json"]["schema"]
        return schema["properties"]["error"]["properties"]["code"]["enum"]

    assert codes("400") == ["invalid_json", "invalid_base64"]
    # non_finite_output is new with issue 11 (NaN/inf model outputs are refused, not nulls).
    assert codes("413") == ["payload_too_large"]
    assert codes("422") == ["invalid_input", "non_finite_output"]
    assert "the body is not valid JSON" in responses["400"]["description"]


def test_a_failing_prediction_is_a_json_500(function, make_event, example_manifest) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    # The session itself fails: the one-pass path lets go and the general path answers 500.
    model = dataclasses.replace(function.service.model, run=broken)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(function.service, "model", model)
        response = function(make_event(body=json.dumps(example_manifest.example)), CTX)
    assert response["statusCode"] == 500
    assert body_of(response)["error"]["code"] == "internal_error"
    assert headers_of(response)["x-model-version"] == "1"


def test_unknown_routes_and_methods_are_json_errors(function, make_event) -> None:
    missing = function(make_event(method="GET", path="/nope", body=None), CTX)
    assert missing["statusCode"] == 404 and body_of(missing)["error"]["code"] == "not_found"
    wrong = function(make_event(method="GET", path="/predict", body=None), CTX)
    assert wrong["statusCode"] == 405 and body_of(wrong)["error"]["code"] == "method_not_allowed"


def test_emf_metrics_and_structured_logs(
    example_store, make_event, example_manifest, capsys
) -> None:
    # A service name of its own: powertools binds a logger's stream when it is first made.
    fn = build({"SLIPWAY_STORE": str(example_store), "POWERTOOLS_SERVICE_NAME": "emf-test"})
    capsys.readouterr()
    fn(make_event(body=json.dumps(example_manifest.example)), CTX)
    fn(make_event(body="[]"), CTX)
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 2
    first, second = emf
    assert (
        first["model_version"] == "1"
        and first["ColdStart"] == [1.0]
        and first["BatchSize"] == [1.0]
    )
    assert ["model", "model_version", "service"] in first["_aws"]["CloudWatchMetrics"][0][
        "Dimensions"
    ]
    assert "ColdStart" not in second and second["ClientErrors"] == [1.0]
    logs = [line for line in lines if line.get("message") == "request refused"]
    assert logs and logs[0]["request_id"] == "JKJaXmPLvHcESHA=" and logs[0]["model_version"] == 1


def test_init_fails_clearly_for_a_missing_model(example_store, tmp_path) -> None:
    with pytest.raises(ModelInitError, match="register it first"):
        build({"SLIPWAY_STORE": str(tmp_path)})
    with pytest.raises(ModelInitError, match="digits@9 does not exist"):
        build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_MODEL": "digits@9"})


def _copy_store(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for path in dst.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dst


def test_init_fails_on_checksum_mismatch(example_store, tmp_path) -> None:
    root = _copy_store(example_store, tmp_path / "s")
    model = root / "digits" / "1" / "model.onnx"
    model.write_bytes(model.read_bytes() + b"\x00")
    with pytest.raises(ModelInitError, match="sha256"):
        build({"SLIPWAY_STORE": str(root)})


def test_init_fails_on_schema_mismatch(example_store, tmp_path) -> None:
    root = _copy_store(example_store, tmp_path / "s")
    manifest = root / "digits" / "1" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"name": "input"', '"name": "pixels"'))
    with pytest.raises(ModelInitError, match="do not match the ONNX file"):
        build({"SLIPWAY_STORE": str(root)})


def test_init_fails_on_a_pinned_sha_that_differs(example_store) -> None:
    with pytest.raises(ModelInitError, match="was pinned"):
        build(
            {
                "SLIPWAY_STORE": str(example_store),
                "SLIPWAY_MODEL": "digits@1",
                "SLIPWAY_MODEL_SHA256": "ab" * 32,
            }
        )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SLIPWAY_MAX_BATCH", "lots"),
        ("SLIPWAY_MAX_BODY_BYTES", "99999999"),
        ("SLIPWAY_METRICS", "maybe"),
    ],
)
def test_bad_configuration_is_named(example_store, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        build({"SLIPWAY_STORE": str(example_store), key: value})


def test_the_real_entry_point_loads_at_import(example_store, make_event, example_manifest) -> None:
    event = make_event(body=json.dumps(example_manifest.example))
    code = (
        "import json, sys; from functions.predict.handler import handler; "
        "print(json.dumps(handler(json.loads(sys.stdin.read()), None)))"
    )
    env = {**os.environ, "SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(event),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    response = json.loads(out.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 200
    bad = subprocess.run(
        [sys.executable, "-c", code],
        input="{}",
        env={**env, "SLIPWAY_MODEL": "nope@1"},
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "cannot serve model nope@1" in bad.stderr


def test_init_runs_the_example_once_and_refuses_a_model_that_cannot(
    example_store, tmp_path
) -> None:
    root = _copy_store(example_store, tmp_path / "s")
    manifest = root / "digits" / "1" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["example"] = {"inputs": [[1.0, 2.0]]}  # not 64 features: the model cannot answer it
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelInitError, match="refused its own example request"):
        build({"SLIPWAY_STORE": str(root)})


def test_snapstart_registers_an_after_restore_hook(
    example_store, make_event, example_manifest
) -> None:
    import snapshot_restore_py

    registry = snapshot_restore_py._after_restore_registry
    before = len(registry)
    fn = build(
        {
            "SLIPWAY_STORE": str(example_store),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
            "SLIPWAY_METRICS": "off",
        }
    )
    assert len(registry) == before + 1 and registry[-1][0] == fn.after_restore
    fn(make_event(body=json.dumps(example_manifest.example)), CTX)
    assert fn._cold is False
    registry[-1][0]()  # what the runtime runs after a restore
    assert fn._cold is True
    del registry[before:]
    plain = build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"})
    assert plain and len(registry) == before


def test_tracing_is_switched_on_by_the_environment(
    example_store, make_event, example_manifest
) -> None:
    off = build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"})
    on = build(
        {"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off", "SLIPWAY_TRACING": "on"}
    )
    assert off.tracer is None and on.tracer is not None
    response = on(make_event(body=json.dumps(example_manifest.example)), CTX)
    assert response["statusCode"] == 200  # outside Lambda, powertools' tracer records nothing


# -- issue 11 ---------------------------------------------------------------------------------


def test_non_finite_outputs_name_the_rows_and_are_counted(
    example_store, make_event, capsys
) -> None:
    fn = build({"SLIPWAY_STORE": str(example_store), "POWERTOOLS_SERVICE_NAME": "nonfinite-test"})
    capsys.readouterr()
    rows = [ROW, [1e38] * 64, ROW, [-1e38] * 64]  # finite float32; the model computes NaN
    response = fn(make_event(body=json.dumps({"inputs": rows})), CTX)
    assert response["statusCode"] == 422, response["body"]
    error = body_of(response)["error"]
    assert error["code"] == "non_finite_output"
    assert (
        "'probabilities'" in error["message"] and "for 2 of 4 rows (rows 1, 3," in error["message"]
    )
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert emf[-1]["ClientErrors"] == [1.0] and emf[-1]["NonFiniteOutputs"] == [1.0]
    fn(make_event(body=json.dumps({"inputs": [ROW]})), CTX)
    emf = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert "NonFiniteOutputs" not in emf[-1] and "ClientErrors" not in emf[-1]


def test_openapi_states_each_inputs_dtype_range(function, make_event) -> None:
    spec = body_of(function(make_event(method="GET", path="/openapi.json", body=None), CTX))
    post = spec["paths"]["/predict"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    number = schema["properties"]["inputs"]["items"]["items"]
    assert number == {
        "type": "number",
        "minimum": -3.4028234663852886e38,
        "maximum": 3.4028234663852886e38,
    }
    assert "non_finite_output" in post["responses"]["422"]["description"]


def test_a_huge_unknown_field_gives_short_messages_and_log_lines(
    example_store, make_event, capsys
) -> None:
    # The repro of issue 11: a 2 MiB field name once made a log line of megabytes.
    fn = build({"SLIPWAY_STORE": str(example_store), "POWERTOOLS_SERVICE_NAME": "huge-key-test"})
    capsys.readouterr()
    for body in [
        '{"' + "k" * (2 * 1024 * 1024) + '": 1}',
        json.dumps({"inputs": [ROW], "k" * 70_000: 1}),
    ]:
        response = fn(make_event(body=body), CTX)
        assert response["statusCode"] == 422
        message = body_of(response)["error"]["message"]
        assert len(message) < 400 and "more characters)" in message, message[:500]
    out = capsys.readouterr()
    lines = (out.out + out.err).splitlines()
    assert any("request refused" in line for line in lines)
    assert max(len(line) for line in lines) < 2000
