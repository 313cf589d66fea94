"""POST /predict's one path on fixed and random bodies: each answer is onnxruntime's outputs
for the rows sent, or the refusal that names what is wrong, whichever event carried it.

(It replaces the tests that kept a one-pass twin of this path in agreement with it: the same
bodies, now checked against onnxruntime and the contract's statuses.)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from functions.predict.runtime import PredictFunction, build

CTX = None
ROW = [float(v) for v in range(64)]


@pytest.fixture(scope="module")
def function(example_store: Path) -> PredictFunction:
    return build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_MAX_BATCH": "8"})


@pytest.fixture(scope="module")
def session(example_store: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))


def predict(function: PredictFunction, make_event: Any, body: bytes) -> tuple[int, Any]:
    result = function(make_event(body=body.decode()), CTX)
    return result["statusCode"], json.loads(result["body"])


def expected(session: ort.InferenceSession, rows: Any) -> tuple[int, Any]:
    """(status, outputs) onnxruntime gives for these rows as float32: 422 when not finite."""
    label, proba = session.run(None, {"input": np.asarray(rows, dtype=np.float32)})
    if not np.isfinite(proba).all():
        return 422, None
    return 200, {"label": label.tolist(), "probabilities": proba}


def check(got: tuple[int, Any], want: tuple[int, Any]) -> None:
    status, body = got
    assert status == want[0], body
    if status == 200:
        assert body["model"] == {"name": "digits", "version": 1}
        assert body["outputs"]["label"] == want[1]["label"]
        np.testing.assert_allclose(
            body["outputs"]["probabilities"], want[1]["probabilities"], rtol=1e-6, atol=1e-12
        )
    else:
        assert body["error"]["code"] == "non_finite_output"


@pytest.mark.parametrize(
    "rows",
    [
        [ROW],
        [ROW] * 8,  # the batch limit
        [[v / 7 for v in ROW]],
        [[v * 1e10 for v in ROW], [-v for v in ROW]],
        [[0] * 64],
        [[*ROW[:63], 3e30]],  # huge but finite: x·x overflows float32, the exact check accepts
    ],
)
def test_usual_bodies_are_answered_with_onnxruntimes_outputs(
    function: PredictFunction, session: ort.InferenceSession, make_event: Any, rows: Any
) -> None:
    body = json.dumps({"inputs": rows}).encode()
    check(predict(function, make_event, body), expected(session, rows))
    # Whitespace and layout do not matter: the same bytes come back.
    spaced = json.dumps({"inputs": rows}, indent=2).encode()
    first = function(make_event(body=body.decode()), CTX)["body"]
    assert function(make_event(body=spaced.decode()), CTX)["body"] == first


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "invalid_json"),
        (b"{}", 422, "invalid_input"),
        (b"null", 422, "invalid_input"),
        (b'{"inputs": []}', 422, "invalid_input"),
        (b'{"inputs": [[]]}', 422, "invalid_input"),
        (b'{"inputs": 5}', 422, "invalid_input"),
        (b'{"inputs": [1, 2]}', 422, "invalid_input"),
        (json.dumps({"inputs": [ROW] * 9}).encode(), 413, "payload_too_large"),
        (json.dumps({"inputs": [ROW[:63]]}).encode(), 422, "invalid_input"),
        (json.dumps({"inputs": [ROW, ROW[:63]]}).encode(), 422, "invalid_input"),  # ragged
        (json.dumps({"inputs": [[ROW]]}).encode(), 422, "invalid_input"),  # nested once more
        (json.dumps({"inputs": [[*ROW[:63], 3.5e38]]}).encode(), 422, "invalid_input"),
        (json.dumps({"inputs": [[*ROW[:63], 1e39]]}).encode(), 422, "invalid_input"),
        (json.dumps({"inputs": [[*ROW[:63], 1e300]]}).encode(), 422, "invalid_input"),
        (b'{"inputs": [[' + b"1," * 63 + b"1e999]]}", 400, "invalid_json"),  # orjson: infinity
        (b'{"inputs": [[' + b"1," * 63 + b"NaN]]}", 422, "invalid_input"),
        (b'{"inputs": [[' + b"1," * 63 + b"1.2.3]]}", 400, "invalid_json"),
        (b'{"inputs": [[' + b"1," * 63 + b"-]]}", 400, "invalid_json"),
        (b'{"inputs": [[' + b"1,," * 32 + b"]]}", 400, "invalid_json"),
        (b'{"inputs": [[' + b"1," * 63 + b'"1"]]}', 422, "invalid_input"),
        (b'{"inputs": [[' + b"1," * 63 + b"null]]}", 422, "invalid_input"),
        (b'{"inputs": [[' + b"1," * 63 + b'1]], "x": 1}', 422, "invalid_input"),
        (b'{"inputs":: [[' + b"1," * 63 + b"1]]}", 400, "invalid_json"),
        (b'{"inputs": [[' + b"1," * 63 + b"1]]", 400, "invalid_json"),
    ],
)
def test_everything_else_gets_its_refusal(
    function: PredictFunction, make_event: Any, body: bytes, status: int, code: str
) -> None:
    got, answer = predict(function, make_event, body)
    assert (got, answer["error"]["code"]) == (status, code), answer


def test_row_records_take_the_same_path(
    function: PredictFunction, session: ort.InferenceSession, make_event: Any
) -> None:
    body = b'{"instances": [[' + b"1," * 63 + b"1]]}"
    check(predict(function, make_event, body), expected(session, [[1.0] * 64]))


def test_random_bodies(
    function: PredictFunction, session: ort.InferenceSession, make_event: Any, capsys: Any
) -> None:
    """Random rows, some broken on purpose: onnxruntime's answer, or the refusal."""
    rng = np.random.default_rng()  # another seed each run
    for _ in range(200):
        batch = int(rng.integers(1, 10))
        rows: list[Any] = (rng.standard_normal((batch, 64)) * 10.0 ** rng.integers(-3, 25)).tolist()
        damage = int(rng.integers(0, 6))
        if damage == 1:
            rows[-1] = rows[-1][:-1]
        elif damage == 2:
            rows[0][int(rng.integers(0, 64))] = float(rng.choice([1e39, -1e39, 1e300]))
        got = predict(function, make_event, json.dumps({"inputs": rows}).encode())
        if batch > 8:
            assert got[0] == 413
        elif damage in (1, 2):
            assert (got[0], got[1]["error"]["code"]) == (422, "invalid_input")
        else:
            check(got, expected(session, rows))
    capsys.readouterr()


def test_every_event_source_gets_the_same_answer(
    function: PredictFunction, make_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = [
        json.dumps({"inputs": [ROW]}),
        json.dumps({"inputs": [ROW] * 3}),
        json.dumps({"inputs": [[*ROW[:63], 1e39]]}),
        json.dumps({"inputs": [ROW[:3]]}),
        "{",
    ]
    for body in bodies:
        answers = set()
        for kind in ("http_api_v2", "function_url", "rest_api_v1"):
            result = function(copy.deepcopy(make_event(kind, body=body)), CTX)
            answers.add((result["statusCode"], result["body"]))
        assert len(answers) == 1, answers
    capsys.readouterr()


def test_a_prediction_writes_its_metrics(
    example_store: Path, make_event: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fn = build({"SLIPWAY_STORE": str(example_store), "POWERTOOLS_SERVICE_NAME": "fast-emf"})
    capsys.readouterr()
    event = make_event(body=json.dumps({"inputs": [ROW, ROW]}))
    for _ in range(2):
        fn(copy.deepcopy(event), CTX)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert len(lines) == 2
    first, second = (
        [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for line in lines
    )
    assert first == ["Latency", "BatchSize", "ColdStart"] and second == ["Latency", "BatchSize"]
    assert lines[1]["BatchSize"] == [2.0] and lines[1]["Latency"][0] > 0
