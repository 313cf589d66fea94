"""scikit-learn estimators and pipelines to ONNX, with skl2onnx.

Also XGBoost's and LightGBM's scikit-learn estimators (XGBClassifier, LGBMRegressor, …), alone
or inside pipelines: their onnxmltools converters are registered with skl2onnx (boosters.py).
A DataFrame sample gives one named input per column, with the column's own dtype.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from model_store.convert import boosters, compat, tabular
from model_store.convert.base import Exported
from model_store.convert.failure import conversion_error
from model_store.exceptions import ConversionError
from model_store.manifest import Column

_MODULES = ("sklearn.", "xgboost.", "lightgbm.")


def is_sklearn(model: Any) -> bool:
    return type(model).__module__.startswith(_MODULES) and hasattr(model, "predict")


def export(model: Any, sample: Any, *, opset: int | None) -> Exported:
    import skl2onnx
    import sklearn
    from skl2onnx.common.data_types import FloatTensorType

    compat.apply()
    libraries = {"skl2onnx": skl2onnx.__version__, **boosters.register_with_skl2onnx(model)}
    if isinstance(sample, Mapping):
        sample = tabular.from_mapping(sample)
    columns: tuple[Column, ...] | None = None
    onnx_model = model
    if tabular.is_dataframe(sample):
        columns = tabular.columns_of(sample)
        feeds = tabular.feeds_of(sample, columns)
        initial = tabular.initial_types(columns)
        original_input = sample if hasattr(model, "feature_names_in_") else sample.to_numpy()
        onnx_model = _with_column_inputs(model, sample)
    else:
        given = np.asarray(sample)
        x = given.astype(np.float32)
        if x.ndim != 2:
            raise ConversionError(
                f"scikit-learn sample inputs must be 2-D (rows, features); got {x.shape}"
            )
        feeds = {"input": x}
        initial = [("input", FloatTensorType([None, x.shape[1]]))]
        # The original sees the sample in its own precision, as it would the client's numbers
        # (JSON is float64); ONNX sees them cast to float32, as served. skl2onnx sets trees'
        # float32 thresholds so that the two agree; with a float32 sample they need not.
        original_input = given if given.dtype.kind == "f" else x
    is_classifier = hasattr(model, "classes_")
    options = {"zipmap": False} if is_classifier else None  # plain tensors, not lists of maps
    try:
        onx = skl2onnx.to_onnx(
            boosters.without_feature_names(onnx_model),
            initial_types=initial,
            options=options,
            target_opset=boosters.target_opset(model, opset),
        )
    except Exception as exc:  # skl2onnx raises many types for unsupported estimators
        raise conversion_error(model, exc, converter="skl2onnx") from exc
    if columns is not None:
        tabular.restore_input_names(onx, [c.name for c in columns])
    reference: dict[str, np.ndarray]
    if is_classifier:
        labels = tuple(v.item() if hasattr(v, "item") else v for v in model.classes_)
        reference = {"label": np.asarray(model.predict(original_input))}
        if hasattr(model, "predict_proba"):
            reference["probabilities"] = np.asarray(model.predict_proba(original_input))
        elif hasattr(model, "decision_function"):
            # No probabilities (LinearSVC): skl2onnx's second output holds decision scores.
            _rename_output(onx, "probabilities", "scores")
            scores = np.asarray(model.decision_function(original_input))
            reference["scores"] = scores.reshape(len(scores), -1)
        kind = "classifier"
    else:
        labels = None
        out = np.asarray(model.predict(original_input))
        reference = {"variable": out.reshape(len(out), -1)}
        kind = "regressor"
    return Exported(
        data=onx.SerializeToString(),
        framework="scikit-learn",
        framework_version=sklearn.__version__,
        libraries=libraries,
        kind=kind,
        labels=labels,
        reference=reference,
        feeds=feeds,
        columns=columns,
    )


def _with_column_inputs(model: Any, frame: Any) -> Any:
    """`model` as skl2onnx must see it for one input per column.

    skl2onnx maps named inputs to a ColumnTransformer's columns; any other estimator takes a
    single matrix. So a model fitted on a DataFrame without one (e.g. an XGBClassifier on
    numeric columns) is put behind a passthrough ColumnTransformer, which becomes a Concat of
    the columns in order; parity still compares against the original model.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = model.steps[0][1] if isinstance(model, Pipeline) else model
    if isinstance(first, ColumnTransformer):
        return model
    numeric = frame.select_dtypes("number").columns
    if len(numeric) != len(frame.columns):
        strings = [c for c in frame.columns if c not in numeric]
        raise ConversionError(
            f"{type(first).__name__} takes numbers, but the sample has string columns "
            f"{strings[:5]}: put a ColumnTransformer (e.g. OneHotEncoder for them) first"
        )
    columns = ColumnTransformer([("columns", "passthrough", list(frame.columns))])
    return Pipeline([("columns", columns.fit(frame)), ("model", model)])


def _rename_output(onx: Any, old: str, new: str) -> None:
    for output in onx.graph.output:
        if output.name == old:
            output.name = new
    for node in onx.graph.node:
        for k, name in enumerate(node.output):
            if name == old:
                node.output[k] = new
