"""Issue 28: tree ensembles whose float32 thresholds fail parity register in double precision.

The data is what the issue describes: features of about ±0.1 (readings rounded to 3 decimals,
with float64 noise from a unit conversion), targets in the hundreds. Values closer than a
float32 step sit on both sides of a threshold, which float32 cannot tell apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra.cli import main
from model_store.convert import convert
from model_store.exceptions import ParityError
from tests.model_store.helpers import CTX, event, serve

ROWS, FIT = 1200, 1000


def small_valued(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(scale=0.1, size=(ROWS, 4)), 3) + rng.normal(scale=1e-9, size=(ROWS, 4))
    return x, 200 + 1500 * x[:, 0] + 800 * np.sin(30 * x[:, 1])


@pytest.fixture(scope="module")
def hgb() -> tuple[Any, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingRegressor

    x, y = small_valued()
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(x[:FIT], y[:FIT])
    return model, x[FIT:]


def test_float32_fails_parity_and_double_precision_passes(hgb) -> None:
    model, rows = hgb
    with pytest.raises(ParityError, match="beyond tolerance") as refused:
        convert(model, rows, name="hgb", precision="float32")
    assert "Double-precision trees were tried" not in str(refused.value)
    m = convert(model, rows, name="hgb").manifest
    assert m.precision == "float64" and m.parity is not None and m.parity.passed
    assert m.parity.max_abs_diff < 1e-3 and m.parity.samples == len(rows)
    assert [(i.name, i.dtype) for i in m.inputs] == [("input", "float64")]
    assert [(o.name, o.dtype) for o in m.outputs] == [("variable", "float64")]
    assert m.opset["ai.onnx.ml"] == 3


def test_the_converters_are_left_as_they_were(hgb) -> None:
    from skl2onnx.common._container import ModelComponentContainer
    from skl2onnx.common._registration import _converter_pool

    before = ModelComponentContainer.add_node
    fct = _converter_pool["SklearnHistGradientBoostingClassifier"]._fct
    convert(hgb[0], hgb[1], name="hgb", precision="float64")
    assert ModelComponentContainer.add_node is before
    assert _converter_pool["SklearnHistGradientBoostingClassifier"]._fct is fct
    assert convert(hgb[0], hgb[1][:5], name="hgb", atol=1e3).manifest.precision == "float32"


def test_when_double_fails_too_both_are_reported(hgb) -> None:
    # Zero tolerance: the trees' float output (cast to double) cannot match to the last bit.
    with pytest.raises(ParityError, match="Double-precision trees were tried too: .*beyond"):
        convert(hgb[0], hgb[1], name="hgb", atol=0.0, rtol=0.0)


def test_a_model_without_trees_is_not_retried() -> None:
    from sklearn.linear_model import Ridge

    x, y = small_valued()
    with pytest.raises(ParityError) as refused:
        convert(Ridge().fit(x, y), x, name="ridge", atol=0.0, rtol=0.0)
    assert "Double-precision" not in str(refused.value)


def test_a_double_precision_model_registers_and_serves(hgb, tmp_path: Path, capsys) -> None:
    """The issue's repro through `slipway register`, then the function's handler: JSON and OIP."""
    import joblib

    model, rows = hgb
    joblib.dump(model, tmp_path / "hgb.joblib")
    np.save(tmp_path / "rows.npy", rows)
    store = tmp_path / "store"
    code = main(["register", str(tmp_path / "hgb.joblib"), "--name", "hgb", "--sample", str(tmp_path / "rows.npy"), "--store", str(store)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "hgb@1 registered" in out and "float64" in out, out
    manifest = json.loads((store / "hgb" / "1" / "manifest.json").read_text())
    assert manifest["precision"] == "float64" and manifest["parity"]["passed"]
    got = serve(store, "hgb@1", {"inputs": rows.tolist()})
    np.testing.assert_allclose(np.ravel(got["variable"]), model.predict(rows), rtol=1e-6)
    assert serve(store, "hgb@1", manifest["example"])  # the manifest's example is served too

    from functions.predict.runtime import build

    fn = build({"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": "hgb@1", "SLIPWAY_METRICS": "off"})
    body = {"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64", "data": rows[:3].ravel().tolist()}]}  # fmt: skip
    response = fn(event(body, path="/v2/models/hgb/infer"), CTX)
    assert response["statusCode"] == 200, response["body"]
    (output,) = json.loads(response["body"])["outputs"]
    assert output["datatype"] == "FP64"
    np.testing.assert_allclose(output["data"], model.predict(rows[:3]), rtol=1e-6)


@pytest.mark.integration
def test_classifiers_and_dataframes_in_double(tmp_path: Path) -> None:
    """A forest classifier (skl2onnx rounds its values unless asked for opset 3) and a
    DataFrame pipeline (float columns become float64 inputs, an int column stays int64)."""
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    from model_store.backends.local import LocalStore

    x, y = small_valued(1)
    label = (y > 200).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x[:FIT], label[:FIT])
    m = convert(clf, x[FIT:], name="clf").manifest
    assert m.precision == "float64" and m.parity is not None and m.parity.label_mismatches == 0
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(n=np.arange(ROWS) % 7)
    reg = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(frame[:FIT], label[:FIT])
    converted = convert(reg, frame[FIT:], name="frame")
    assert converted.manifest.precision == "float64"
    assert [(c.name, c.dtype) for c in converted.manifest.columns or ()] == [
        ("a", "float64"), ("b", "float64"), ("c", "float64"), ("d", "float64"), ("n", "int64"),
    ]  # fmt: skip
    manifest, _ = LocalStore(tmp_path).register(converted.data, converted.manifest)
    rows = frame[FIT:]
    got = serve(tmp_path, manifest.ref, {"instances": rows.to_dict(orient="records")})
    assert got["label"] == reg.predict(rows).tolist()
    np.testing.assert_allclose(got["probabilities"], reg.predict_proba(rows), atol=1e-6)


@pytest.mark.integration
def test_lightgbm_in_double_and_xgboost_stays_float32(tmp_path: Path) -> None:
    """LightGBM compares float64 thresholds, as HistGradientBoosting does: its Booster and
    its estimator go to double. XGBoost computes in float32 itself: float32 is its parity."""
    import lightgbm as lgb
    import xgboost as xgb

    from model_store.backends.local import LocalStore

    x, y = small_valued(2)
    booster = lgb.train(
        {"objective": "regression", "verbose": -1}, lgb.Dataset(x[:FIT], y[:FIT]), 20
    )
    converted = convert(booster, x[FIT:], name="lgb")
    assert converted.manifest.precision == "float64"
    assert converted.manifest.inputs[0].dtype == "float64"
    manifest, _ = LocalStore(tmp_path).register(converted.data, converted.manifest)
    got = serve(tmp_path, manifest.ref, {"inputs": x[FIT:].tolist()})
    np.testing.assert_allclose(np.ravel(got["variable"]), booster.predict(x[FIT:]), rtol=1e-6)
    estimator = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(x[:FIT], y[:FIT] > 200)
    assert convert(estimator, x[FIT:], name="lgbc").manifest.precision == "float64"
    xgb_model = xgb.XGBRegressor(n_estimators=20).fit(x[:FIT], y[:FIT])
    assert convert(xgb_model, x[FIT:], name="xgb").manifest.precision == "float32"
