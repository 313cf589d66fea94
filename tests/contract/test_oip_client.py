"""tritonclient's InferenceServerClient against real servers: `slipway serve` over HTTPS (API
Gateway's events, base64 binary bodies, Lambda's runtime) and the image's HTTP mode.

Every result is compared with onnxruntime run directly on the same arrays.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.infra.local.serving import serve

pytestmark = pytest.mark.integration

# image-http: the built image under podman (built once per session for tests/contract).
TARGETS = ["slipway-serve", "http-mode", "image-http"]
MAX_BATCH = 1024  # the default SLIPWAY_MAX_BATCH (slipway serve's environments)


@pytest.fixture(scope="module")
def served_url(
    example_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    with serve(example_store, tmp_path_factory.mktemp("oip")) as s:
        yield s.url, s.cert


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> tuple[str, str | None, int]:
    """(url, CA certificate or None, the batch limit)."""
    if request.param == "slipway-serve":
        url, cert = request.getfixturevalue("served_url")
        return url, cert, MAX_BATCH
    from tests.contract.conftest import MAX_BATCH as CONTRACT_BATCH

    fixture = "http_mode_url" if request.param == "http-mode" else "image_http_url"
    return request.getfixturevalue(fixture), None, CONTRACT_BATCH


@pytest.fixture
def client(target: tuple[str, str | None, int]) -> Iterator[triton.InferenceServerClient]:
    url, cert, _ = target
    scheme, host = url.split("://")
    kwargs: dict[str, Any] = {}
    if scheme == "https":
        kwargs = {"ssl": True, "ssl_options": {"ca_certs": cert}}
    c = triton.InferenceServerClient(host, network_timeout=60, **kwargs)
    yield c
    c.close()


@pytest.fixture(scope="module")
def session(example_store: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))


def rows(digits_test_rows: Any, batch: int) -> np.ndarray:
    x = digits_test_rows[np.arange(batch) % len(digits_test_rows)]
    return np.ascontiguousarray(x, dtype=np.float32)


def test_health_readiness_and_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("digits") and client.is_model_ready("digits", "1")
    assert not client.is_model_ready("nope") and not client.is_model_ready("digits", "9")
    meta = client.get_model_metadata("digits")
    assert meta["name"] == "digits" and meta["versions"] == ["1"]
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert [(o["name"], o["datatype"]) for o in meta["outputs"]] == [
        ("label", "INT64"),
        ("probabilities", "FP32"),
    ]
    server = client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"]
    with pytest.raises(InferenceServerException) as caught:
        client.get_model_metadata("nope")
    assert caught.value.status() == "404" and "digits" in caught.value.message()


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
@pytest.mark.parametrize("batch", [1, 64])
def test_infer_equals_onnxruntime(
    client: triton.InferenceServerClient,
    session: ort.InferenceSession,
    digits_test_rows: Any,
    binary_in: bool,
    binary_out: bool,
    batch: int,
) -> None:
    x = rows(digits_test_rows, batch)
    want_label, want_proba = session.run(None, {"input": x})
    inp = triton.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary_in)
    outs = [
        triton.InferRequestedOutput("label", binary_data=binary_out),
        triton.InferRequestedOutput("probabilities", binary_data=binary_out),
    ]
    result = client.infer("digits", [inp], outputs=outs, request_id=f"r{batch}")
    assert result.get_response()["id"] == f"r{batch}"
    np.testing.assert_array_equal(result.as_numpy("label"), want_label)
    got = result.as_numpy("probabilities")
    assert got.dtype == np.float32 and got.shape == want_proba.shape
    if binary_out:  # the same bytes onnxruntime gave
        np.testing.assert_array_equal(got, want_proba)
    else:  # JSON's shortest round-trip text of each float32
        np.testing.assert_allclose(got, want_proba, rtol=1e-6)


def test_all_outputs_binary_by_default_and_by_version(
    client: triton.InferenceServerClient, session: ort.InferenceSession, digits_test_rows: Any
) -> None:
    x = rows(digits_test_rows, 8)
    inp = triton.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    # No outputs named: tritonclient asks for every output in binary (binary_data_output).
    result = client.infer("digits", [inp], model_version="1")
    want_label, want_proba = session.run(None, {"input": x})
    np.testing.assert_array_equal(result.as_numpy("label"), want_label)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), want_proba)
    with pytest.raises(InferenceServerException) as caught:
        client.infer("digits", [inp], model_version="2")
    assert caught.value.status() == "404"


def test_batches_up_to_the_limit_and_one_over(
    client: triton.InferenceServerClient,
    target: tuple[str, str | None, int],
    session: ort.InferenceSession,
    digits_test_rows: Any,
) -> None:
    limit = target[2]
    for binary in (True, False):
        x = rows(digits_test_rows, limit)
        inp = triton.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=binary)
        result = client.infer("digits", [inp])
        np.testing.assert_array_equal(result.as_numpy("label"), session.run(None, {"input": x})[0])
    x = rows(digits_test_rows, limit + 1)
    inp = triton.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException) as caught:
        client.infer("digits", [inp])
    assert caught.value.status() == "413" and "batch limit" in caught.value.message()


def test_bad_tensors_get_the_documented_errors(
    client: triton.InferenceServerClient, digits_test_rows: Any
) -> None:
    x = rows(digits_test_rows, 2)
    wrong_type = triton.InferInput("input", [2, 64], "FP64")
    wrong_type.set_data_from_numpy(x.astype(np.float64))
    wrong_shape = triton.InferInput("input", [2, 63], "FP32")
    wrong_shape.set_data_from_numpy(x[:, :63].copy())
    unknown = triton.InferInput("pixels", [2, 64], "FP32")
    unknown.set_data_from_numpy(x)
    nan = triton.InferInput("input", [2, 64], "FP32")
    nan.set_data_from_numpy(np.full((2, 64), np.nan, dtype=np.float32))
    for inp, status, words in (
        (wrong_type, "422", "FP32"),
        (wrong_shape, "422", "[-1, 64]"),
        (unknown, "422", "'pixels'"),
        (nan, "422", "non-finite"),
    ):
        with pytest.raises(InferenceServerException) as caught:
            client.infer("digits", [inp])
        assert caught.value.status() == status, caught.value.message()
        assert words in caught.value.message()


def _post(target: tuple[str, str | None, int], body: bytes, headers: dict[str, str]) -> Any:
    url, cert, _ = target
    with httpx.Client(verify=cert or True, timeout=60) as http:
        return http.post(f"{url}/v2/models/digits/infer", content=body, headers=headers)


def test_binary_sizes_that_do_not_add_up_are_400(
    target: tuple[str, str | None, int], digits_test_rows: Any
) -> None:
    x = rows(digits_test_rows, 3)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [3, 64],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes - 4},
                }
            ]
        }
    ).encode()
    r = _post(
        target, header + x.tobytes()[:-4], {"inference-header-content-length": str(len(header))}
    )
    assert r.status_code == 400, r.text
    assert r.json() == {
        "error": "input 'input' has binary_data_size 764; shape [3, 64] of FP32 is 768 bytes "
        "(192 × 4)"
    }
    r = _post(target, header + x.tobytes(), {"inference-header-content-length": "99999"})
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.json()["error"]


def test_a_body_over_the_limit_is_413_bounded(target: tuple[str, str | None, int]) -> None:
    header = b'{"inputs": []}'
    r = _post(
        target,
        header + b"\0" * (6 * 1024 * 1024),
        {"inference-header-content-length": str(len(header))},
    )
    assert r.status_code == 413 and len(r.content) < 1200, r.text[:300]
