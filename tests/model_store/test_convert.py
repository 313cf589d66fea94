from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from model_store.convert import convert, from_onnx
from model_store.exceptions import ConversionError, ParityError


def _run(data: bytes, x: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def test_sklearn_pipeline_classifier_parity_and_manifest(digits_test_rows: np.ndarray) -> None:
    from model_store.example import train

    model, x, _ = train()
    converted = convert(model, x, name="digits", description="d")
    m = converted.manifest
    assert m.framework == "scikit-learn" and m.kind == "classifier"
    assert m.labels == tuple(range(10))
    assert m.parity is not None and m.parity.passed and m.parity.samples == len(x)
    assert 0 < m.parity.max_abs_diff < 1e-4
    assert [i.name for i in m.inputs] == ["input"] and m.inputs[0].shape == (None, 64)
    assert [o.name for o in m.outputs] == ["label", "probabilities"]
    assert m.opset["ai.onnx"] >= 13 and "skl2onnx" in m.library_versions
    assert m.example == {"inputs": x[:1].tolist()}
    label, proba = _run(converted.data, x.astype(np.float32))
    np.testing.assert_array_equal(label, model.predict(x))
    np.testing.assert_allclose(proba, model.predict_proba(x), atol=1e-5)


def test_sklearn_regressor() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype(np.float32)
    model = Ridge().fit(x, x @ np.array([1.0, -2.0, 0.5, 3.0]))
    m = convert(model, x, name="ridge").manifest
    assert m.kind == "regressor" and m.labels is None and m.parity and m.parity.passed


def test_parity_refused_beyond_tolerance() -> None:
    from model_store.example import train

    model, x, _ = train()
    # float32 ONNX arithmetic never matches float64 scikit-learn exactly: zero tolerance fails.
    with pytest.raises(ParityError, match="beyond tolerance"):
        convert(model, x, name="digits", atol=0.0, rtol=0.0)


def test_unknown_model_type_is_refused() -> None:
    with pytest.raises(ConversionError, match="cannot convert a builtins.dict"):
        convert({}, np.zeros((1, 2)), name="x")


def test_torch_module_parity() -> None:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    x = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    converted = convert(model, x, name="mlp", labels=["a", "b", "c"])
    m = converted.manifest
    assert m.framework == "pytorch" and m.kind == "classifier" and m.labels == ("a", "b", "c")
    assert m.parity is not None and m.parity.passed and m.parity.max_abs_diff < 1e-4
    (out,) = _run(converted.data, x[:5])  # dynamic batch: a different batch size works
    np.testing.assert_allclose(out, model(torch.from_numpy(x[:5])).detach().numpy(), atol=1e-5)


def test_torch_multi_input() -> None:
    import torch

    class Two(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return a * 2 + b.sum(dim=1, keepdim=True)

    rng = np.random.default_rng(1)
    sample = {
        "a": rng.normal(size=(4, 3)).astype(np.float32),
        "b": rng.normal(size=(4, 2)).astype(np.float32),
    }
    m = convert(Two(), sample, name="two").manifest
    assert [i.name for i in m.inputs] == ["a", "b"]
    assert m.parity is not None and m.parity.passed


def test_keras_model_parity() -> None:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).normal(size=(10, 6)).astype(np.float32)
    m = convert(model, x, name="k").manifest
    assert m.framework == "keras" and m.parity is not None and m.parity.passed


def test_from_onnx_registers_without_parity(example_store, example_manifest) -> None:
    data = (example_store / "digits" / "1" / "model.onnx").read_bytes()
    m = from_onnx(data, name="copy", labels=list(range(10))).manifest
    assert m.parity is None and m.framework == "onnx" and m.sha256 == example_manifest.sha256
    assert m.inputs == example_manifest.inputs
