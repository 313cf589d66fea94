"""Issue 16's repros through `slipway register`, as a user runs them, then served.

1. a HistGradientBoostingClassifier registers (it failed inside skl2onnx under protobuf 7);
2. a conversion that fails says in one line what failed and what to try (it was 259 KB)
   and the command exits non-zero;
3. a DataFrame pipeline (ColumnTransformer, a string column) registers from a .csv or
   .parquet sample and answers `{"instances": [...]}` through the function and the Flask app;
4. XGBoost and LightGBM: the matrix (test_tabular_matrix.py) covers them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from infra.cli import main
from tests.model_store.helpers import CTX, event, serve


@pytest.fixture(scope="module")
def hgb_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    import joblib
    from sklearn.ensemble import HistGradientBoostingClassifier

    d = tmp_path_factory.mktemp("hgb")
    x, y = load_breast_cancer(return_X_y=True)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y)
    joblib.dump(model, d / "hgb.joblib")
    np.save(d / "rows.npy", x[:50])
    return d / "hgb.joblib", d / "rows.npy", model


def test_hist_gradient_boosting_registers(hgb_files, tmp_path: Path, capsys) -> None:
    model_file, rows, model = hgb_files
    store = tmp_path / "store"
    code = main(["register", str(model_file), "--name", "hgb", "--sample", str(rows), "--store", str(store)])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "hgb@1 registered" in out.out and "parity: max abs" in out.out
    manifest = json.loads((store / "hgb" / "1" / "manifest.json").read_text())
    assert manifest["parity"]["passed"] and manifest["parity"]["max_abs_diff"] < 1e-6
    body = serve(store, "hgb@1", {"inputs": np.load(rows).tolist()})
    np.testing.assert_allclose(body["probabilities"], model.predict_proba(np.load(rows)), atol=1e-6)


def test_a_failed_conversion_is_a_few_lines_and_exits_non_zero(
    hgb_files, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Without Slipway's fix, skl2onnx's own error is 350 KB of tree attributes."""
    from model_store.convert import compat

    compat.revert_for_tests()
    monkeypatch.setattr(compat, "apply", lambda: None)
    model_file, rows, _ = hgb_files
    code = main(["register", str(model_file), "--name", "hgb", "--sample", str(rows), "--store", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    monkeypatch.undo()
    compat.apply()
    assert code == 1
    message = err[err.index("error:") :]
    assert len(message) < 1000 and len(message.splitlines()) == 1, message[:2000]
    assert "HistGradientBoostingClassifier" in message
    assert "Expected an int, got a boolean" in message
    assert "versions: scikit-learn" in message and "skl2onnx" in message and "protobuf" in message
    assert "try: " in message and "registering the .onnx file" in message
    assert "array(" not in message and "nodes_values" not in message


def test_an_unsupported_step_is_named_with_what_to_try(tmp_path: Path, capsys) -> None:
    import joblib
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    joblib.dump(make_pipeline(StandardScaler(), NearestCentroid()).fit(x, y), tmp_path / "m.joblib")
    np.save(tmp_path / "rows.npy", x[:10])
    code = main(["register", str(tmp_path / "m.joblib"), "--name", "nc", "--sample", str(tmp_path / "rows.npy"), "--store", str(tmp_path / "s")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "step 'nearestcentroid' (NearestCentroid) of the Pipeline" in err
    assert "replace NearestCentroid with an estimator skl2onnx supports" in err
    assert len(err) < 1000 and "Traceback" not in err


# -- DataFrame pipelines ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    import joblib
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    d = tmp_path_factory.mktemp("frame")
    frame = load_diabetes(as_frame=True).frame
    y = (frame.pop("target") > 140).astype(int)
    frame["sex"] = np.where(frame["sex"] > 0, "male", "female")
    frame["visits"] = (frame["bmi"] * 100).round().astype("int64") + 10
    numeric = ["age", "bmi", "bp", "s1", "s5", "visits"]
    frame = frame[[*numeric, "sex"]]
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(frame, y)
    joblib.dump(model, d / "churn.joblib")
    frame.head(40).to_csv(d / "rows.csv", index=False)
    frame.head(40).to_parquet(d / "rows.parquet")
    return d, model, frame


@pytest.mark.parametrize("sample", ["rows.csv", "rows.parquet"])
def test_dataframe_pipeline_registers_from_csv_or_parquet_and_serves_instances(
    frame_files, sample: str, tmp_path: Path, capsys
) -> None:
    d, model, frame = frame_files
    store = tmp_path / "store"
    code = main(["register", str(d / "churn.joblib"), "--name", "churn", "--sample", str(d / sample), "--store", str(store)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((store / "churn" / "1" / "manifest.json").read_text())
    assert [(c["name"], c["dtype"]) for c in manifest["columns"]] == [
        ("age", "float32"), ("bmi", "float32"), ("bp", "float32"), ("s1", "float32"),
        ("s5", "float32"), ("visits", "int64"), ("sex", "str"),
    ]  # fmt: skip
    assert manifest["columns"][-1]["source_dtype"] in ("str", "object")
    assert [i["shape"] for i in manifest["inputs"]] == [[None, 1]] * 7
    rows = frame.head(25)
    out = serve(store, "churn@1", {"instances": rows.to_dict(orient="records")})
    assert out["label"] == model.predict(rows).tolist()
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(rows), atol=1e-5)
    # The manifest's example is an instances body the function answers (SnapStart's check).
    serve(store, "churn@1", manifest["example"])


def test_instances_errors_and_openapi_per_column(frame_files, tmp_path: Path) -> None:
    from functions.predict.runtime import build

    d, _, frame = frame_files
    store = tmp_path / "store"
    assert main(["register", str(d / "churn.joblib"), "--name", "churn", "--sample", str(d / "rows.csv"), "--store", str(store)]) == 0  # fmt: skip
    fn = build({"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": "churn@1", "SLIPWAY_METRICS": "off"})
    good = frame.head(2).to_dict(orient="records")
    for rows, want in [
        ([good[0], {**good[1], "sex": 1}], "instances[1]: field 'sex' expects a string"),
        (
            [good[0], {**good[1], "visits": 3.5}],
            "instances[1]: field 'visits' expects a whole number",
        ),
        ([{k: v for k, v in good[0].items() if k != "bmi"}], "instances[0]: missing field ['bmi']"),
        ([{**good[0], "plan": "pro"}], "instances[0]: unknown field ['plan']"),
        ([{**good[0], "sex": "x" * 5000}], "the limit is 1024"),
    ]:
        response = fn(event({"instances": rows}), CTX)
        error = json.loads(response["body"])["error"]
        assert response["statusCode"] == 422 and error["code"] == "invalid_input", error
        assert want in error["message"], error["message"]
        assert len(error["message"]) < 400
    spec = json.loads(fn(event(None, method="GET", path="/openapi.json"), CTX)["body"])
    schema = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    record = schema["properties"]["instances"]["items"]
    assert record["required"] == list(frame.columns) and record["additionalProperties"] is False
    assert record["properties"]["sex"] == {"type": "string", "maxLength": 1024}
    assert record["properties"]["visits"]["type"] == "integer"
    assert record["properties"]["bmi"]["type"] == "number"
    assert schema["oneOf"] == [{"required": ["inputs"]}, {"required": ["instances"]}]


def test_instances_through_the_flask_app(frame_files, tmp_path: Path) -> None:
    from functions.flask_api.app import create_app
    from functions.predict.config import Settings
    from functions.predict.service import PredictionService

    d, model, frame = frame_files
    store = tmp_path / "store"
    assert main(["register", str(d / "churn.joblib"), "--name", "churn", "--sample", str(d / "rows.parquet"), "--store", str(store)]) == 0  # fmt: skip
    settings = Settings.from_mapping({"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": "churn@1"})
    client = create_app(PredictionService.from_settings(settings)).test_client()
    rows = frame.head(5)
    ok = client.post("/predict", json={"instances": rows.to_dict(orient="records")})
    assert ok.status_code == 200 and ok.json["outputs"]["label"] == model.predict(rows).tolist()
    bad = client.post("/predict", json={"instances": [{**rows.iloc[0].to_dict(), "sex": None}]})
    assert (
        bad.status_code == 422
        and "field 'sex' expects a string; got null" in bad.json["error"]["message"]
    )


def test_booster_files_that_are_not_boosters_are_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "model.json").write_text('{"not": "a model"}')
    (tmp_path / "model.txt").write_text("hello")
    np.save(tmp_path / "rows.npy", np.zeros((2, 3)))
    for name in ("model.json", "model.txt"):
        code = main(["register", str(tmp_path / name), "--name", "b", "--sample", str(tmp_path / "rows.npy"), "--store", str(tmp_path / "s")])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and " is not a" in err and "Booster" in err and len(err) < 800, err
