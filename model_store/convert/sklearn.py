"""scikit-learn estimators and pipelines to ONNX, with skl2onnx.

Also XGBoost's and LightGBM's scikit-learn estimators (XGBClassifier, LGBMRegressor, …), alone
or inside pipelines: their onnxmltools converters are registered with skl2onnx (boosters.py).
A DataFrame sample gives one named input per column, with the column's own dtype.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from model_store.convert import boosters, compat, double, sk_text, tabular
from model_store.convert.base import Exported
from model_store.convert.failure import conversion_error, short
from model_store.convert.outputs import rename
from model_store.exceptions import ConversionError
from model_store.manifest import Column
from model_store.texts import as_texts

_MODULES = ("sklearn.", "xgboost.", "lightgbm.")


def is_sklearn(model: Any) -> bool:
    return type(model).__module__.startswith(_MODULES) and hasattr(model, "predict")


def export(model: Any, sample: Any, *, opset: int | None, precision: str = "float32") -> Exported:
    """`precision` float64: float inputs and tree ensembles in double (double.py)."""
    import skl2onnx
    import sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    compat.apply()
    libraries = {"skl2onnx": skl2onnx.__version__, **boosters.register_with_skl2onnx(model)}
    columns: tuple[Column, ...] | None = None
    onnx_model = model
    texts: list[str] | None = None
    if sk_text.takes_text(model):  # fitted on strings: one text a row
        texts = as_texts(sample)
        feeds = {sk_text.INPUT: sk_text.texts_array(texts)}
        initial = [(sk_text.INPUT, StringTensorType([None, 1]))]
        original_input: Any = texts
    elif isinstance(sample, Mapping) or tabular.is_dataframe(sample):
        if isinstance(sample, Mapping):
            sample = tabular.from_mapping(sample)
        columns = tabular.in_precision(tabular.columns_of(sample), precision)
        feeds = tabular.feeds_of(sample, columns)
        initial = tabular.initial_types(columns)
        original_input = sample if hasattr(model, "feature_names_in_") else sample.to_numpy()
        onnx_model = _with_column_inputs(model, sample)
    else:
        given = np.asarray(sample)
        if given.dtype.kind in "USO" and given.ndim < 2:
            raise ConversionError(
                f"the sample holds texts, but the {type(model).__name__} takes numbers; a text "
                "model starts with a CountVectorizer or TfidfVectorizer fitted on strings"
            )
        x = given.astype(precision)
        if x.ndim != 2:
            raise ConversionError(
                f"scikit-learn sample inputs must be 2-D (rows, features); got {x.shape}"
            )
        feeds = {"input": x}
        tensor_type = DoubleTensorType if precision == "float64" else FloatTensorType
        initial = [("input", tensor_type([None, x.shape[1]]))]
        # The original sees the sample in its own precision, as it would the client's numbers
        # (JSON is float64); ONNX sees them cast to `precision`, as served. skl2onnx sets trees'
        # float32 thresholds so that the two agree; with a float32 sample they need not.
        original_input = given if given.dtype.kind == "f" else x
    is_classifier = hasattr(model, "classes_")
    reference = _original_outputs(model, original_input)  # before converting: fails faster
    tokenizers = sk_text.check_tokenizers(model, texts, opset) if texts is not None else None
    options: dict[Any, Any] | None = {"zipmap": False} if is_classifier else None
    text_options = sk_text.options(model)  # by estimator: then zipmap is given by estimator too
    if text_options:
        options = {**text_options, **({id(_final(model)): options} if options else {})}
    in_double = precision == "float64"
    try:
        with double.double_trees(cast_scores=True) if in_double else contextlib.nullcontext():
            onx = skl2onnx.to_onnx(
                boosters.without_feature_names(onnx_model),
                initial_types=initial,
                options=options,
                target_opset=boosters.target_opset(model, opset, ml=in_double),
            )
    except Exception as exc:  # skl2onnx raises many types for unsupported estimators
        raise conversion_error(model, exc, converter="skl2onnx") from exc
    if columns is not None:
        tabular.restore_input_names(onx, [c.name for c in columns])
    if "scores" in reference:  # skl2onnx's second output holds decision scores (LinearSVC)
        rename(onx, outputs={"probabilities": "scores"})
    labels = None
    if is_classifier:
        labels = tuple(v.item() if hasattr(v, "item") else v for v in model.classes_)
    processing, example = None, None
    if texts is not None:
        processing = _text_processing(labels, "probabilities" in reference)
        example = {"inputs": texts[0]} if processing else {"inputs": [[texts[0]]]}
    return Exported(
        data=onx.SerializeToString(),
        framework="scikit-learn",
        framework_version=sklearn.__version__,
        libraries=libraries,
        kind="classifier" if is_classifier else "regressor",
        labels=labels,
        reference=reference,
        feeds=feeds,
        columns=columns,
        precision=precision,
        processing=processing,
        example=example,
        checks={"tokenizer": tokenizers} if tokenizers is not None else None,
    )


def _final(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _text_processing(labels: tuple[Any, ...] | None, probabilities: bool) -> dict[str, Any] | None:
    """A text classifier's processing: texts in (the graph tokenizes), top-k labels out. A
    regressor, or a classifier without probabilities, is served its tensors only."""
    if not labels or not probabilities:
        return None
    return {
        "input": {"kind": "text", "name": sk_text.INPUT},
        "output": {
            "task": "classification",
            "output": "probabilities",
            "function_to_apply": "none",
            "top_k": min(5, len(labels)),
        },
    }


def _original_outputs(model: Any, rows: Any) -> dict[str, np.ndarray]:
    """The fitted model's own outputs on the sample, named as the converted graph's."""
    try:
        if not hasattr(model, "classes_"):
            out = np.asarray(model.predict(rows))
            return {"variable": out.reshape(len(out), -1)}
        reference = {"label": np.asarray(model.predict(rows))}
        if hasattr(model, "predict_proba"):
            reference["probabilities"] = np.asarray(model.predict_proba(rows))
        elif hasattr(model, "decision_function"):  # no probabilities (LinearSVC)
            scores = np.asarray(model.decision_function(rows))
            reference["scores"] = scores.reshape(len(scores), -1)
        return reference
    except Exception as exc:  # the user's estimator: any error
        expected = getattr(model, "n_features_in_", None)
        shape = f" ({expected} features)" if expected is not None else ""
        raise ConversionError(
            f"the {type(model).__name__} could not predict on the sample ({type(exc).__name__}: "
            f"{short(str(exc))}); give sample rows like its training data{shape}"
        ) from exc


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
