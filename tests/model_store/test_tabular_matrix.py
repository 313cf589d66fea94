"""The coverage matrix of issue 16: each tabular family, fitted on a data set scikit-learn
ships (no downloads), converted, registered, served by the prediction function's handler in
process, and answered with parity against the original model's predict/predict_proba.

Models are small (10-30 trees) so the whole matrix stays well under a minute and a half.
`pytest -s` prints the matrix (family × registered × parity × served) at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import datasets

from tests.model_store.helpers import serve

SEED = 0
ROWS = 60  # the parity sample and the served batch
RESULTS: list[tuple[str, str, str, str]] = []


@dataclass(frozen=True)
class Case:
    family: str
    make: Callable[[], Any]  # an unfitted estimator or pipeline
    data: str  # "iris", "cancer", "diabetes", "frame" (DataFrame with a string column)


def _data(name: str) -> tuple[Any, np.ndarray]:
    if name == "iris":
        x, y = datasets.load_iris(return_X_y=True)
    elif name == "cancer":
        x, y = datasets.load_breast_cancer(return_X_y=True)
    elif name == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True)
    elif name in ("frame", "frame-numeric"):
        frame = datasets.load_diabetes(as_frame=True).frame
        y = (frame.pop("target") > 140).astype(int).to_numpy()
        frame["age_years"] = (frame.pop("age") * 100 + 50).round().astype("int64")
        if name == "frame-numeric":
            return frame.drop(columns=["sex"]), y
        frame["sex"] = np.where(frame["sex"] > 0, "male", "female")
        return frame, y
    else:
        raise ValueError(name)
    return x, y


def _scaled(est: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), est)


def _frame_pipeline(est: Any, *, scale: bool = True) -> Any:
    """The usual deployment: numeric columns scaled (passed through for trees, which need no
    scaling), the string column one-hot encoded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "age_years"]
    prep = ColumnTransformer(
        [
            ("num", StandardScaler() if scale else "passthrough", numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ]
    )
    return Pipeline([("prep", prep), ("model", est)])


def _cases() -> list[Case]:
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn import ensemble, linear_model, naive_bayes, neighbors, neural_network, svm, tree

    trees = {"n_estimators": 10, "max_depth": 4, "random_state": SEED}
    return [
        Case("LogisticRegression (pipeline)", lambda: _scaled(linear_model.LogisticRegression()), "iris"),
        Case("SGDClassifier log_loss (pipeline)", lambda: _scaled(linear_model.SGDClassifier(loss="log_loss", random_state=SEED)), "cancer"),
        Case("LinearSVC (pipeline)", lambda: _scaled(svm.LinearSVC(random_state=SEED)), "iris"),
        Case("LinearSVC binary (pipeline)", lambda: _scaled(svm.LinearSVC(random_state=SEED)), "cancer"),
        Case("SVC probability (pipeline)", lambda: _scaled(svm.SVC(probability=True, random_state=SEED)), "iris"),
        Case("KNeighborsClassifier (pipeline)", lambda: _scaled(neighbors.KNeighborsClassifier()), "iris"),
        Case("GaussianNB", naive_bayes.GaussianNB, "iris"),
        Case("MLPClassifier (pipeline)", lambda: _scaled(neural_network.MLPClassifier((16,), max_iter=300, random_state=SEED)), "iris"),
        Case("DecisionTreeClassifier", lambda: tree.DecisionTreeClassifier(max_depth=5, random_state=SEED), "cancer"),
        Case("RandomForestClassifier", lambda: ensemble.RandomForestClassifier(**trees), "cancer"),
        Case("ExtraTreesClassifier", lambda: ensemble.ExtraTreesClassifier(**trees), "iris"),
        Case("GradientBoostingClassifier", lambda: ensemble.GradientBoostingClassifier(**trees), "cancer"),
        Case("HistGradientBoostingClassifier", lambda: ensemble.HistGradientBoostingClassifier(max_iter=30, random_state=SEED), "cancer"),
        Case("HistGradientBoostingClassifier multiclass", lambda: ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=SEED), "iris"),
        Case("AdaBoostClassifier", lambda: ensemble.AdaBoostClassifier(n_estimators=10, random_state=SEED), "cancer"),
        Case("LinearRegression (pipeline)", lambda: _scaled(linear_model.LinearRegression()), "diabetes"),
        Case("Ridge", linear_model.Ridge, "diabetes"),
        Case("Lasso", lambda: linear_model.Lasso(alpha=0.1), "diabetes"),
        Case("SVR (pipeline)", lambda: _scaled(svm.SVR()), "diabetes"),
        Case("KNeighborsRegressor", neighbors.KNeighborsRegressor, "diabetes"),
        Case("DecisionTreeRegressor", lambda: tree.DecisionTreeRegressor(max_depth=5, random_state=SEED), "diabetes"),
        Case("RandomForestRegressor", lambda: ensemble.RandomForestRegressor(**trees), "diabetes"),
        Case("ExtraTreesRegressor", lambda: ensemble.ExtraTreesRegressor(**trees), "diabetes"),
        Case("GradientBoostingRegressor", lambda: ensemble.GradientBoostingRegressor(**trees), "diabetes"),
        Case("HistGradientBoostingRegressor", lambda: ensemble.HistGradientBoostingRegressor(max_iter=30, random_state=SEED), "diabetes"),
        Case("XGBClassifier", lambda: xgb.XGBClassifier(**trees), "iris"),
        Case("XGBRegressor", lambda: xgb.XGBRegressor(**trees), "diabetes"),
        Case("LGBMClassifier", lambda: lgb.LGBMClassifier(n_estimators=10, verbose=-1, random_state=SEED), "cancer"),
        Case("LGBMRegressor", lambda: lgb.LGBMRegressor(n_estimators=10, verbose=-1, random_state=SEED), "diabetes"),
        Case("DataFrame: ColumnTransformer + LogisticRegression", lambda: _frame_pipeline(linear_model.LogisticRegression()), "frame"),
        Case("DataFrame: ColumnTransformer + HistGradientBoosting", lambda: _frame_pipeline(ensemble.HistGradientBoostingClassifier(max_iter=20, random_state=SEED), scale=False), "frame"),
        Case("DataFrame: ColumnTransformer + XGBClassifier", lambda: _frame_pipeline(xgb.XGBClassifier(**trees), scale=False), "frame"),
        Case("DataFrame: ColumnTransformer + LGBMClassifier", lambda: _frame_pipeline(lgb.LGBMClassifier(n_estimators=10, verbose=-1), scale=False), "frame"),
        Case("DataFrame: XGBClassifier on numeric columns", lambda: xgb.XGBClassifier(**trees), "frame-numeric"),
    ]  # fmt: skip


CASES = _cases()


def _check_served(model: Any, x: Any, outputs: dict[str, Any], kind: str) -> float:
    """The served answer against the original model; the largest probability/value gap."""
    if kind == "classifier":
        assert outputs["label"] == np.asarray(model.predict(x)).tolist()
        if not hasattr(model, "predict_proba"):  # LinearSVC: decision scores
            want = np.asarray(model.decision_function(x)).reshape(len(x), -1)
            np.testing.assert_allclose(outputs["scores"], want, atol=1e-4, rtol=1e-3)
            return float(np.abs(np.asarray(outputs["scores"]) - want).max())
        want = np.asarray(model.predict_proba(x))
        got = np.asarray(outputs["probabilities"])
    else:
        want = np.asarray(model.predict(x)).reshape(len(x), -1)
        got = np.asarray(outputs["variable"])
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-3)
    return float(np.abs(got - want).max())


def _body(x: Any) -> dict[str, Any]:
    if hasattr(x, "to_dict"):  # a DataFrame: row records by column name
        return {"instances": x.to_dict(orient="records")}
    return {"inputs": np.asarray(x).tolist()}


@pytest.mark.parametrize("case", CASES, ids=[c.family for c in CASES])
def test_family_registers_and_serves_with_parity(case: Case, tmp_path: Path) -> None:
    from model_store.backends.local import LocalStore
    from model_store.convert import convert

    x, y = _data(case.data)
    model = case.make().fit(x, y)
    sample = x.iloc[:ROWS] if hasattr(x, "iloc") else x[:ROWS]
    converted = convert(model, sample, name="tab")
    manifest, _ = LocalStore(tmp_path).register(converted.data, converted.manifest)
    parity = manifest.parity
    assert parity is not None and parity.passed and parity.label_mismatches == 0
    if case.data.startswith("frame"):
        assert manifest.columns is not None
        assert [c.name for c in manifest.columns] == [str(c) for c in x.columns]
        assert [i.name for i in manifest.inputs] == [str(c) for c in x.columns]
        assert manifest.example is not None and "instances" in manifest.example
    outputs = serve(tmp_path, manifest.ref, _body(sample))
    gap = _check_served(model, sample, outputs, manifest.kind)
    RESULTS.append((case.family, "yes", f"{parity.max_abs_diff:.1e}", f"yes (max diff {gap:.1e})"))


BOOSTERS = ["xgboost-json", "xgboost-ubj", "xgboost-multiclass-json", "lightgbm-txt", "lightgbm-regression-txt"]  # fmt: skip


@pytest.mark.parametrize("which", BOOSTERS)
def test_native_booster_files_register_andserve(which: str, tmp_path: Path) -> None:
    """Booster files (not scikit-learn objects) through `slipway register`'s loader."""
    import lightgbm as lgb
    import xgboost as xgb

    from model_store.backends.local import LocalStore
    from model_store.convert import convert
    from model_store.sources import load_model_file

    data = "iris" if "multiclass" in which else "diabetes" if "regression" in which else "cancer"
    x, y = _data(data)
    lib, _, fmt = which.rpartition("-")
    path = tmp_path / f"model.{fmt}"
    if lib.startswith("xgboost"):
        params: dict[str, Any] = {"objective": "binary:logistic", "max_depth": 3}
        if "multiclass" in lib:
            params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3}
        xgb.train(params, xgb.DMatrix(x, label=y), num_boost_round=15).save_model(path)
    else:
        objective = "regression" if "regression" in lib else "binary"
        lgb.train({"objective": objective, "verbose": -1}, lgb.Dataset(x, label=y), 15).save_model(
            path
        )
    booster = load_model_file(path)
    converted = convert(booster, x[:ROWS], name="booster")
    store = tmp_path / "store"
    manifest, _ = LocalStore(store).register(converted.data, converted.manifest)
    assert manifest.parity is not None and manifest.parity.passed
    outputs = serve(store, manifest.ref, {"inputs": x[:ROWS].tolist()})
    predicted = np.asarray(
        booster.predict(xgb.DMatrix(x[:ROWS]))
        if lib.startswith("xgboost")
        else booster.predict(x[:ROWS])
    )
    if manifest.kind == "classifier":
        proba = predicted if predicted.ndim == 2 else np.column_stack([1 - predicted, predicted])
        np.testing.assert_allclose(outputs["probabilities"], proba, atol=1e-5)
        assert outputs["label"] == proba.argmax(axis=1).tolist()
        gap = float(np.abs(np.asarray(outputs["probabilities"]) - proba).max())
    else:
        np.testing.assert_allclose(np.ravel(outputs["variable"]), predicted, rtol=1e-4, atol=1e-3)
        gap = float(np.abs(np.ravel(outputs["variable"]) - predicted).max())
    RESULTS.append(
        (
            f"{which} Booster file",
            "yes",
            f"{manifest.parity.max_abs_diff:.1e}",
            f"yes (max diff {gap:.1e})",
        )
    )


def test_zz_print_the_matrix() -> None:
    """Runs last in this module (file order): the closing note's table, with `pytest -s`."""
    width = max((len(r[0]) for r in RESULTS), default=10)
    print(f"\n{'family':<{width}}  registered  parity max abs  served")
    for family, registered, parity, served in RESULTS:
        print(f"{family:<{width}}  {registered:<10}  {parity:<14}  {served}")
    assert RESULTS
