"""The Open Inference Protocol in process: parsing, encoding, routing, and the Lambda handler
with every event format (binary bodies base64-encoded, as API Gateway sends them).

Requests are built and answers read by tritonclient's own encoder and decoder where it has
them (InferInput, InferRequestedOutput, InferResult.from_response_body), not by hand.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton
from tritonclient.http._utils import _get_inference_request

from functions.predict import body as contract_body
from functions.predict import limits, oip
from functions.predict.exceptions import InvalidTensor
from functions.predict.oip import elements, writer
from functions.predict.runtime import PredictFunction, build
from infra.events import function_url, http_api_v2, rest_v1

CTX = SimpleNamespace(aws_request_id="req-1", function_name="predict")
INFER = "/v2/models/digits/infer"


@pytest.fixture(scope="module")
def function(example_store: Path) -> PredictFunction:
    return build(
        {"SLIPWAY_STORE": str(example_store), "SLIPWAY_MAX_BATCH": "100", "SLIPWAY_METRICS": "off"}
    )


@pytest.fixture(scope="module")
def session(example_store: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))


def x_rows(digits_test_rows: Any, batch: int) -> np.ndarray:
    return np.ascontiguousarray(digits_test_rows[:batch], dtype=np.float32)


def triton_request(
    x: np.ndarray, *, binary_in: bool, binary_out: bool | None, request_id: str = ""
) -> tuple[bytes, dict[str, str]]:
    """The body and headers tritonclient's InferenceServerClient.infer would send."""
    inp = triton.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary_in)
    outs = None
    if binary_out is not None:
        outs = [
            triton.InferRequestedOutput(n, binary_data=binary_out)
            for n in ("label", "probabilities")
        ]
    body, json_size = _get_inference_request(
        inputs=[inp],
        request_id=request_id,
        outputs=outs,
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        custom_parameters=None,
    )
    headers = {}
    if json_size is not None:
        headers["inference-header-content-length"] = str(json_size)
    return body, headers


def invoke(
    function: PredictFunction, body: bytes | None, headers: dict[str, str], kind: str = "v2"
) -> dict[str, Any]:
    make = {"v2": http_api_v2, "v1": rest_v1, "url": function_url}[kind]
    method = "POST" if body is not None else "GET"
    return function(make(method, INFER, body=body, headers=headers), CTX)


def result_of(response: dict[str, Any]) -> triton.InferResult:
    raw = response["body"]
    body = base64.b64decode(raw) if response["isBase64Encoded"] else raw.encode()
    length = response["headers"].get(oip.HEADER_LENGTH)
    return triton.InferResult.from_response_body(
        body, header_length=int(length) if length else None
    )


@pytest.mark.parametrize("kind", ["v2", "v1", "url"])
@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False, None])
def test_infer_through_the_handler_equals_onnxruntime(
    function, session, digits_test_rows, kind: str, binary_in: bool, binary_out: bool | None
) -> None:
    x = x_rows(digits_test_rows, 5)
    body, headers = triton_request(x, binary_in=binary_in, binary_out=binary_out, request_id="q")
    # tritonclient sends no Content-Type; the event builder base64-encodes what is not UTF-8.
    response = invoke(function, body, headers, kind)
    assert response["statusCode"] == 200, response["body"][:300]
    binary = binary_out is not False  # None: no outputs named, so all binary (tritonclient)
    assert response["isBase64Encoded"] is binary
    content_type = response["headers"]["content-type"]
    assert content_type == (contract_body.BINARY if binary else contract_body.JSON)
    result = result_of(response)
    assert result.get_response()["id"] == "q"
    assert result.get_response()["model_name"] == "digits"
    label, proba = session.run(None, {"input": x})
    np.testing.assert_array_equal(result.as_numpy("label"), label)
    np.testing.assert_allclose(result.as_numpy("probabilities"), proba, rtol=1e-6)


def test_json_data_flat_or_nested_and_output_selection(function, session, digits_test_rows) -> None:
    x = x_rows(digits_test_rows, 3)
    for data in (x.tolist(), x.reshape(-1).tolist()):
        request = {
            "inputs": [{"name": "input", "shape": [3, 64], "datatype": "FP32", "data": data}],
            "outputs": [{"name": "probabilities"}],
            "parameters": {"custom": 1},
        }
        response = invoke(function, json.dumps(request).encode(), {})
        out = json.loads(response["body"])
        assert [o["name"] for o in out["outputs"]] == ["probabilities"]
        tensor = out["outputs"][0]
        assert tensor["datatype"] == "FP32" and tensor["shape"] == [3, 10]
        np.testing.assert_allclose(
            np.reshape(tensor["data"], (3, 10)), session.run(None, {"input": x})[1], rtol=1e-6
        )
        assert "id" not in out


def test_routes_answer_without_fastapi(example_store) -> None:
    fn = build({"SLIPWAY_STORE": str(example_store), "SLIPWAY_METRICS": "off"})
    paths = ["/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/digits"]
    paths += ["/v2/models/digits/ready", "/v2/models/digits/versions/1/ready", "/health"]
    paths += ["/model"]
    for path in paths:
        response = fn(http_api_v2("GET", path), CTX)
        assert response["statusCode"] == 200, (path, response["body"])
    for path, status in (("/v2/models/x", 404), ("/v2/nope", 404), ("/nope", 404)):
        assert fn(http_api_v2("GET", path), CTX)["statusCode"] == status
    wrong = fn(http_api_v2("GET", INFER), CTX)
    assert wrong["statusCode"] == 405 and wrong["headers"]["allow"] == "POST"
    for path in ("/v2/health/live", "/v2/models/digits", "/health"):
        wrong = fn(http_api_v2("DELETE", path), CTX)
        assert wrong["statusCode"] == 405 and wrong["headers"]["allow"] == "GET", path
    assert fn.dispatch._document is None  # nothing but /openapi.json builds the FastAPI app
    spec = json.loads(fn(http_api_v2("GET", "/openapi.json"), CTX)["body"])
    assert fn.dispatch._document is not None
    for path in ("/v2", "/v2/health/ready", "/v2/models/digits/ready", "/v2/models/digits/infer"):
        assert path in spec["paths"]
    infer = spec["paths"]["/v2/models/digits/versions/1/infer"]["post"]
    assert set(infer["responses"]) >= {"200", "400", "404", "413", "415", "422"}
    assert "application/octet-stream" in infer["responses"]["200"]["content"]


def test_metadata_from_the_manifest(function) -> None:
    meta = json.loads(function(http_api_v2("GET", "/v2/models/digits/versions/1"), CTX)["body"])
    assert meta == {
        "name": "digits",
        "versions": ["1"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
        ],
    }


def tensor(**over: Any) -> dict[str, Any]:
    base = {"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


BAD_JSON = [
    # (what, request, status, words in the message)
    ("not JSON", b"{", 400, "not valid JSON"),
    ("not an object", b"[1]", 422, "JSON object"),
    ("no inputs", b'{"outputs": []}', 422, '"inputs"'),
    ("unknown field", {"inputs": [tensor()], "extra": 1}, 422, "'extra'"),
    ("id not a string", {"id": 3, "inputs": [tensor()]}, 422, '"id"'),
    ("wrong input name", {"inputs": [tensor(name="x")]}, 422, "'x'"),
    ("input twice", {"inputs": [tensor(), tensor()]}, 422, "twice"),
    ("wrong datatype", {"inputs": [tensor(datatype="FP64")]}, 422, "takes FP32"),
    ("wrong rank", {"inputs": [tensor(shape=[64])]}, 422, "[-1, 64]"),
    ("wrong row", {"inputs": [tensor(shape=[1, 63], data=[0] * 63)]}, 422, "[-1, 64]"),
    ("count mismatch", {"inputs": [tensor(data=[0.0] * 63)]}, 422, "63 values"),
    ("nested wrongly", {"inputs": [tensor(shape=[2, 64], data=[[0] * 32] * 4)]}, 422, "nest"),
    ("strings", {"inputs": [tensor(data=["a"] * 64)]}, 422, "numbers"),
    ("null", {"inputs": [tensor(data=[None] * 64)]}, 422, "numbers"),
    ("too big for FP32", {"inputs": [tensor(data=[1e39] * 64)]}, 422, "range"),
    ("empty batch", {"inputs": [tensor(shape=[0, 64], data=[])]}, 422, "empty batch"),
    ("batch over limit", {"inputs": [tensor(shape=[101, 64], data=[0] * 6464)]}, 413, "limit"),
    ("no data", {"inputs": [tensor(data=None)]}, 422, 'no "data"'),
    (
        "unknown output",
        {"inputs": [tensor()], "outputs": [{"name": "logits"}]},
        422,
        "'logits'",
    ),
    (
        "binary_data not a bool",
        {"inputs": [tensor()], "outputs": [{"name": "label", "parameters": {"binary_data": 1}}]},
        422,
        "binary_data",
    ),
]


@pytest.mark.parametrize(
    ("what", "request_", "status", "words"), BAD_JSON, ids=[b[0] for b in BAD_JSON]
)
def test_bad_json_requests(function, what, request_, status: int, words: str) -> None:
    body = request_ if isinstance(request_, bytes) else json.dumps(request_).encode()
    response = invoke(function, body, {"content-type": "application/json"})
    assert response["statusCode"] == status, response["body"]
    error = json.loads(response["body"])
    assert set(error) == {"error"} and words in error["error"], error


def binary_request(x: np.ndarray, size: int | None = None, extra: bytes = b"") -> tuple[bytes, str]:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": list(x.shape),
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes if size is None else size},
                }
            ]
        }
    ).encode()
    return header + x.tobytes() + extra, str(len(header))


def test_binary_sizes_must_add_up(function) -> None:
    x = np.zeros((2, 64), dtype=np.float32)
    cases = [
        (
            binary_request(x, size=x.nbytes - 4, extra=b""),
            "has binary_data_size 508; shape [2, 64]",
        ),
        (binary_request(x, extra=b"\0\0"), "2 bytes of binary data after"),
        (binary_request(x, size=x.nbytes + 4), "only 512 bytes"),
    ]
    for (body, length), words in cases:
        response = invoke(function, body, {oip.HEADER_LENGTH: length})
        assert response["statusCode"] == 400, response["body"]
        assert words in json.loads(response["body"])["error"]
    body, _ = binary_request(x)
    for length in ("-1", "abc", str(len(body) + 1)):
        response = invoke(function, body, {oip.HEADER_LENGTH: length})
        assert response["statusCode"] == 400
        assert "Inference-Header-Content-Length" in json.loads(response["body"])["error"]


def test_binary_nan_is_refused_like_json(function) -> None:
    body, length = binary_request(np.full((1, 64), np.inf, dtype=np.float32))
    response = invoke(function, body, {oip.HEADER_LENGTH: length})
    assert response["statusCode"] == 422 and "non-finite" in response["body"]


@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_binary_non_finite_is_refused_among_huge_finite_values(function, bad: float) -> None:
    # Huge finite values overflow the quick x·x check; the exact check then decides.
    x = np.full((3, 64), 3e30, dtype=np.float32)
    body, length = binary_request(x)
    assert invoke(function, body, {oip.HEADER_LENGTH: length})["statusCode"] == 200
    x[2, 5] = bad
    body, length = binary_request(x)
    response = invoke(function, body, {oip.HEADER_LENGTH: length})
    assert response["statusCode"] == 422 and "non-finite" in response["body"]


def test_content_types_and_bad_base64(function) -> None:
    body, length = binary_request(np.zeros((1, 64), dtype=np.float32))
    headers = {oip.HEADER_LENGTH: length, "content-type": contract_body.BINARY}
    event = http_api_v2("POST", INFER, body=body, headers=headers)
    assert event["isBase64Encoded"]  # as API Gateway passes a binary body
    ok = function(event, CTX)
    assert ok["statusCode"] == 200
    refused = invoke(function, body, {oip.HEADER_LENGTH: length, "content-type": "text/csv"})
    assert refused["statusCode"] == 415 and "application/octet-stream" in refused["body"]
    event = http_api_v2("POST", INFER, body=b"{}")
    event.update(body="###", isBase64Encoded=True)
    bad = function(event, CTX)
    assert bad["statusCode"] == 400 and set(json.loads(bad["body"])) == {"error"}


def test_messages_are_bounded(function) -> None:
    huge = "n" * 100_000
    for request in (
        {"inputs": [tensor(name=huge)]},
        {"inputs": [tensor()], huge: 1},
        {"inputs": [tensor(datatype=huge)]},
    ):
        response = invoke(function, json.dumps(request).encode(), {})
        assert response["statusCode"] == 422
        assert len(response["body"]) < 1200 and "more characters" in response["body"]
    for path in ("/v2/models/" + huge, "/v2/models/digits/versions/" + huge):
        response = function(http_api_v2("GET", path), CTX)
        assert response["statusCode"] == 404 and len(response["body"]) < 1200


def test_string_and_bool_tensors_both_ways() -> None:
    """BYTES and BOOL through the parser (the example model has neither): JSON and binary."""
    from model_store.manifest import TensorSpec

    spec_s = TensorSpec("plan", (None, 1), "str")
    spec_b = TensorSpec("flag", (None, 1), "bool")
    arr = elements.from_json([["pro"], ["free"]], spec_s, [2, 1], 2, "input 'plan'")
    assert arr.tolist() == [["pro"], ["free"]]
    inp = triton.InferInput("plan", [2, 1], "BYTES")
    inp.set_data_from_numpy(np.array([[b"pro"], ["fré".encode()]], dtype=object))
    raw = inp._get_binary_data()
    assert elements.from_binary(raw, 0, len(raw), "BYTES", [2, 1], 2, "p").tolist() == [
        ["pro"],
        ["fré"],
    ]
    assert writer._to_binary(np.array(["pro", "fré"], dtype=object)) == raw
    bools = np.array([True, False]).tobytes()
    flags = elements.from_binary(bools, 0, len(bools), "BOOL", [2, 1], 2, "f")
    assert flags.tolist() == [[True], [False]]
    with pytest.raises(InvalidTensor):
        elements.from_binary(b"\x02\x00", 0, 2, "BOOL", [2, 1], 2, "f")
    assert elements.from_json([[True], [False]], spec_b, [2, 1], 2, "f").dtype == np.bool_


def test_response_size_counts_base64(function, monkeypatch) -> None:
    x = np.zeros((4, 64), dtype=np.float32)
    body, headers = triton_request(x, binary_in=True, binary_out=True)
    ok = invoke(function, body, headers)
    size = len(base64.b64decode(ok["body"]))
    assert ok["statusCode"] == 200 and len(ok["body"]) == limits.base64_size(size)
    # A limit between the answer's size and its base64 size: base64 is what Lambda carries.
    monkeypatch.setattr(limits, "MAX_RESPONSE_BYTES", size + 10)
    response = invoke(function, body, headers)
    assert response["statusCode"] == 413, response["body"]


def _header_and_rest(
    header: dict[str, Any], x: np.ndarray, extra: bytes = b""
) -> tuple[bytes, str]:
    raw = json.dumps(header).encode()
    return raw + x.tobytes() + extra, str(len(raw))


def _tensor(x: np.ndarray, **changes: Any) -> dict[str, Any]:
    tensor = {
        "name": "input",
        "shape": list(x.shape),
        "datatype": "FP32",
        "parameters": {"binary_data_size": x.nbytes},
    }
    tensor.update(changes)
    return tensor


def test_binary_infer_answers_as_onnxruntime_and_refuses_the_rest(
    function, session, digits_test_rows
) -> None:
    """The one infer path on tritonclient's binary requests, fixed and random: each answer
    equals onnxruntime's outputs, and every request that is off in one respect is refused
    with the protocol's status (the request a former one-pass twin handed over)."""
    import random

    x = x_rows(digits_test_rows, 7)
    rng = random.Random()  # another seed each run
    requests = [
        triton_request(x, binary_in=True, binary_out=None),
        triton_request(x, binary_in=True, binary_out=True, request_id="abc"),
        triton_request(x, binary_in=True, binary_out=False),
        triton_request(x[:1], binary_in=True, binary_out=True),
    ]
    for _ in range(20):
        rows = x_rows(digits_test_rows[rng.randrange(0, 50) :], rng.randrange(1, 40))
        rows = rows * np.float32(rng.choice([1.0, 0.5, 3.0]))
        out = rng.choice([None, True, False])
        requests.append(triton_request(rows, binary_in=True, binary_out=out))
    for body, headers in requests:
        response = invoke(function, body, headers)
        assert response["statusCode"] == 200, response["body"][:300]
        got = result_of(response)
        length = int(headers[oip.HEADER_LENGTH])
        sent = np.frombuffer(body[length:], dtype=np.float32).reshape(-1, 64)
        label, proba = session.run(None, {"input": sent})
        np.testing.assert_array_equal(got.as_numpy("label"), label)
        np.testing.assert_allclose(got.as_numpy("probabilities"), proba, rtol=1e-6)
    # Each one thing off: the protocol's refusal (400 invalid_tensor, else 422).
    odd = [
        (_header_and_rest({"inputs": [_tensor(x, shape=[7, 64.0])]}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x, shape=[7, True])]}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x, datatype="FP64")]}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x, name="other")]}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x, extra=1)]}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x)], "extra": 1}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x)], "id": 5}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x)], "parameters": []}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x)], "outputs": [{"name": "nope"}]}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x), _tensor(x)]}, x), 422),
        (_header_and_rest({"inputs": [_tensor(x)]}, x, extra=b"\0\0\0\0"), 400),
        (_header_and_rest({"inputs": [_tensor(x, shape=[0, 64])]}, x[:0]), 422),
        (_header_and_rest({"inputs": [_tensor(x[:1], shape=[1, 64])]}, x[:1] * np.inf), 422),
        (_header_and_rest({"inputs": [_tensor(x, data=[1])]}, x), 400),
    ]
    for (body, length), status in odd:
        response = invoke(function, body, {oip.HEADER_LENGTH: length})
        assert response["statusCode"] == status, (body[:200], response["body"][:300])
        assert set(json.loads(response["body"])) == {"error"}
    # Huge but finite inputs pass the input check; the answer is onnxruntime's, or the refusal
    # of outputs that are not finite.
    huge = x[:1] * np.float32(3e30)
    body, length = _header_and_rest({"inputs": [_tensor(huge, shape=[1, 64])]}, huge)
    response = invoke(function, body, {oip.HEADER_LENGTH: length})
    finite = all(np.isfinite(v).all() for v in session.run(None, {"input": huge}))
    assert response["statusCode"] == (200 if finite else 422), response["body"][:300]


def test_a_non_finite_binary_output_is_refused_on_every_path(function, digits_test_rows) -> None:
    import dataclasses

    model = function.service.model
    real = model.run

    def nan_row(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        label, proba = real(feeds)
        proba = proba.copy()
        proba[1, 3] = np.nan
        return [label, proba]

    x = x_rows(digits_test_rows, 3)
    broken = dataclasses.replace(model, run=nan_row)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(function.service, "model", broken)
        for binary_out in (None, True, False):
            body, headers = triton_request(x, binary_in=True, binary_out=binary_out)
            response = invoke(function, body, headers)
            assert response["statusCode"] == 422, response["body"][:300]
            assert "rows 1" in json.loads(response["body"])["error"]
