"""The Python API (`from model_store import register`), from memory as a notebook calls it.

PyTorch and Keras models (integration: they convert with torch) are at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_store import Registered, register
from model_store.backends.local import LocalStore
from model_store.exceptions import ConversionError, InvalidReference, ParityError
from tests.model_store.helpers import net_class, serve


@pytest.fixture(scope="module")
def churn() -> tuple[Any, Any]:
    """A scikit-learn pipeline on a DataFrame with a string column, as trained in a notebook."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = load_diabetes(as_frame=True).frame
    y = (frame.pop("target") > 140).astype(int)
    frame["sex"] = np.where(frame["sex"] > 0, "male", "female")
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["age", "bmi", "bp"]), ("cat", OneHotEncoder(), ["sex"])]
    )
    frame = frame[["age", "bmi", "bp", "sex"]]
    return Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, y), frame


def test_a_pipeline_registers_from_memory_and_serves(churn, tmp_path: Path) -> None:
    model, frame = churn
    sample = frame.head(40)
    version = register(model, name="churn", sample=sample, store=tmp_path, description="nb")
    assert isinstance(version, Registered) and version.created
    assert version.ref == "churn@1" and version.version == 1
    assert version.parity is not None and version.parity.passed and version.parity.samples == 40
    assert str(version) == f"churn@1 registered in LocalStore({str(tmp_path)!r})"
    manifest = LocalStore(tmp_path).manifest("churn", 1)
    assert manifest == version.manifest and manifest.description == "nb"
    assert manifest.framework == "scikit-learn" and manifest.precision == "float32"
    out = serve(tmp_path, "churn@1", {"instances": sample.to_dict(orient="records")})
    assert out["label"] == model.predict(sample).tolist()
    again = register(model, name="churn", sample=sample, store=LocalStore(tmp_path))
    assert not again.created and again.ref == "churn@1"
    assert "already registered (identical bytes)" in str(again)


def test_files_onnx_bytes_and_the_environments_store(churn, tmp_path: Path, monkeypatch) -> None:
    """A model or sample path, ONNX bytes and ModelProto; $SLIPWAY_STORE as the CLI reads it."""
    import joblib
    import onnx

    from model_store import convert_model

    model, frame = churn
    joblib.dump(model, tmp_path / "churn.joblib")
    frame.head(20).to_csv(tmp_path / "rows.csv", index=False)
    monkeypatch.setenv("SLIPWAY_STORE", str(tmp_path / "env-store"))
    first = register(str(tmp_path / "churn.joblib"), name="churn", sample=tmp_path / "rows.csv")
    assert first.ref == "churn@1" and (tmp_path / "env-store" / "churn" / "1").is_dir()
    converted = convert_model(model, name="churn", sample=frame.head(20))
    assert converted.manifest.sha256 == first.manifest.sha256
    from_bytes = register(converted.data, name="copy", labels=[0, 1], store=tmp_path / "s")
    assert from_bytes.parity is None and from_bytes.manifest.framework == "onnx"
    proto = onnx.load_model_from_string(converted.data)
    assert register(proto, name="copy", store=tmp_path / "s").created is False


def test_the_same_errors_as_the_cli(churn, tmp_path: Path) -> None:
    model, frame = churn
    with pytest.raises(InvalidReference, match="without @version"):
        register(model, name="churn@2", sample=frame, store=tmp_path)
    with pytest.raises(ConversionError, match="a sample is required"):
        register(model, name="churn", store=tmp_path)
    with pytest.raises(ConversionError, match="sample .*missing.npy does not exist"):
        register(model, name="churn", sample=str(tmp_path / "missing.npy"), store=tmp_path)
    with pytest.raises(ParityError, match="beyond tolerance"):
        register(model, name="churn", sample=frame, store=tmp_path, atol=0.0, rtol=0.0)
    with pytest.raises(ConversionError, match="precision 'float16'"):
        register(model, name="churn", sample=frame, store=tmp_path, precision="float16")
    assert not (tmp_path / "churn").exists()  # nothing registered on the way


def test_progress_is_reported(churn, tmp_path: Path) -> None:
    said: list[str] = []
    model, frame = churn
    register(model, name="churn", sample=frame.head(5), store=tmp_path, progress=said.append)
    assert said == ["converting to ONNX and checking parity"]


# -- PyTorch and Keras from memory (integration: torch) ----------------------------------------


def test_a_pytorch_module_registers_from_memory_and_serves(tmp_path: Path) -> None:
    import torch

    Net = net_class()  # defined where it is trained: never importable elsewhere
    torch.manual_seed(0)
    model = Net()  # left in training mode, as after a training loop
    x = np.random.default_rng(0).normal(size=(24, 8)).astype(np.float32)
    version = register(model, name="net", sample=x, labels=["a", "b", "c"], store=tmp_path)
    assert model.training  # the user's module is left as it was
    m = version.manifest
    assert m.framework == "pytorch" and m.kind == "classifier"
    assert [(o.name, o.shape) for o in m.outputs] == [("logits", ("batch", 3))]
    assert m.parity is not None and m.parity.passed
    out = serve(tmp_path, "net@1", {"inputs": x[:5].tolist()})
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x[:5])).numpy()
    np.testing.assert_allclose(out["logits"], want, atol=1e-5)
    assert out["label"] == [["a", "b", "c"][i] for i in want.argmax(axis=1)]
    named = register(model, name="net2", sample=x, output_names=["score"], store=tmp_path)
    assert [o.name for o in named.manifest.outputs] == ["score"]


def test_a_keras_model_registers_from_memory_with_named_outputs(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).normal(size=(12, 6)).astype(np.float32)
    version = register(model, name="k", sample=x, labels=["x", "y", "z"], store=tmp_path)
    m = version.manifest
    assert [i.name for i in m.inputs] == ["input"]
    assert [o.name for o in m.outputs] == ["probabilities"]
    assert m.parity is not None and m.parity.passed
    out = serve(tmp_path, "k@1", {"inputs": x[:4].tolist()})
    np.testing.assert_allclose(out["probabilities"], model.predict(x[:4], verbose=0), atol=1e-5)
    raw = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    logits = register(raw, name="raw", sample=x, labels=["no", "yes"], store=tmp_path)
    assert [o.name for o in logits.manifest.outputs] == ["logits"]
    plain = register(raw, name="plain", sample=x, store=tmp_path)
    assert [o.name for o in plain.manifest.outputs] == ["output"]
    manifest = json.loads((tmp_path / "plain" / "1" / "manifest.json").read_text())
    assert manifest["example"] == {"inputs": x[:1].tolist()}
