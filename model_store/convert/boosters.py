"""XGBoost and LightGBM to ONNX through onnxmltools.

- scikit-learn API (XGBClassifier, XGBRegressor, LGBMClassifier, LGBMRegressor): their
  onnxmltools converters are registered with skl2onnx, so they convert alone and inside
  scikit-learn pipelines (sklearn.py does the rest).
- native Boosters (`xgboost.Booster` from .json/.ubj, `lightgbm.Booster` from .txt):
  converted here, with the reference outputs taken from the Booster's own `predict`.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import numpy as np

from model_store.convert import double
from model_store.convert.base import Exported, version_of
from model_store.convert.failure import conversion_error
from model_store.exceptions import ConversionError

# onnxmltools' tree converters emit ai.onnx.ml TreeEnsemble* v3 and its own topology goes up
# to opset 15; skl2onnx asks for the ml domain's version explicitly when they are inside.
ML_OPSET = 3
BOOSTER_OPSET = 15
_REGISTERED: set[str] = set()


def _libraries_in(model: Any) -> set[str]:
    """'xgboost' and/or 'lightgbm' if the model is or contains one of their estimators."""
    found: set[str] = set()
    stack = [model]
    while stack:
        est = stack.pop()
        module = type(est).__module__
        for lib in ("xgboost", "lightgbm"):
            if module.startswith(lib + "."):
                found.add(lib)
        for attr in ("steps", "transformer_list"):
            stack.extend(child for _, child in getattr(est, attr, []) or [])
        stack.extend(t for _, t, _ in getattr(est, "transformers_", []) or [])
        for attr in ("estimator", "base_estimator"):
            if hasattr(est, attr) and not isinstance(getattr(est, attr), str | type(None)):
                stack.append(getattr(est, attr))
        estimators = getattr(est, "estimators_", None)
        if isinstance(estimators, list):
            stack.extend(estimators)
    return found


def register_with_skl2onnx(model: Any) -> dict[str, str]:
    """Register the converters for the boosting libraries `model` uses; their versions."""
    libs = _libraries_in(model)
    if not libs:
        return {}
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    if "xgboost" in libs and "xgboost" not in _REGISTERED:
        import xgboost
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

        update_registered_converter(
            xgboost.XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=classifier_options,
        )
        update_registered_converter(
            xgboost.XGBRegressor,
            "XGBoostXGBRegressor",
            calculate_linear_regressor_output_shapes,
            convert_xgboost,
        )
        _REGISTERED.add("xgboost")
    if "lightgbm" in libs and "lightgbm" not in _REGISTERED:
        import lightgbm
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(
            lightgbm.LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=classifier_options,
        )
        update_registered_converter(
            lightgbm.LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
        )
        _REGISTERED.add("lightgbm")
    versions = {lib: version_of(lib) for lib in sorted(libs)}
    versions["onnxmltools"] = version_of("onnxmltools")
    return versions


def without_feature_names(model: Any) -> Any:
    """A copy of `model` whose XGBoost boosters have no feature names.

    onnxmltools reads features from the booster's dump as f0, f1, …; a booster fitted on a
    DataFrame names them after its columns, which it cannot parse. The user's model is
    left as it is.
    """
    if "xgboost" not in _libraries_in(model):
        return model
    model = copy.deepcopy(model)
    stack = [model]
    while stack:
        est = stack.pop()
        if type(est).__module__.startswith("xgboost.") and hasattr(est, "get_booster"):
            est.get_booster().feature_names = None
        for attr in ("steps", "transformer_list"):
            stack.extend(child for _, child in getattr(est, attr, []) or [])
        stack.extend(t for _, t, _ in getattr(est, "transformers_", []) or [])
        estimators = getattr(est, "estimators_", None)
        if isinstance(estimators, list):
            stack.extend(estimators)
    return model


def target_opset(model: Any, opset: int | None, *, ml: bool = False) -> int | dict[str, int] | None:
    """skl2onnx's target_opset: the ml domain pinned when a boosting library is inside, or
    when `ml` (double-precision trees need ai.onnx.ml opset 3)."""
    if not ml and not _libraries_in(model):
        return opset
    import skl2onnx

    return {"": opset or skl2onnx.get_latest_tested_opset_version(), "ai.onnx.ml": ML_OPSET}


# -- native Boosters -----------------------------------------------------------------------


def is_booster(model: Any) -> bool:
    cls = type(model)
    return cls.__name__ == "Booster" and cls.__module__.split(".")[0] in ("xgboost", "lightgbm")


def export(model: Any, sample: Any, *, opset: int | None, precision: str = "float32") -> Exported:
    """`precision` float64: the trees' values in double and a double input (double.py)."""
    from onnxmltools.convert.common.data_types import FloatTensorType

    given = np.asarray(sample)
    x = given.astype(precision)
    if x.ndim != 2:
        raise ConversionError(f"Booster sample inputs must be 2-D (rows, features); got {x.shape}")
    lib = type(model).__module__.split(".")[0]
    features = int(model.num_features() if lib == "xgboost" else model.num_feature())
    if x.shape[1] != features:
        raise ConversionError(
            f"the {lib} Booster takes {features} features; the sample has {x.shape[1]}"
        )
    # onnxmltools takes only float inputs: the graph's input is declared double afterwards.
    initial = [("input", FloatTensorType([None, features]))]
    target = min(opset or BOOSTER_OPSET, BOOSTER_OPSET)
    in_double = precision == "float64"
    try:
        with double.double_trees(cast_scores=False) if in_double else contextlib.nullcontext():
            # The Booster sees the sample in its own precision, as the client's numbers.
            original = given if given.dtype.kind == "f" else x
            onx, objective, scores = _convert_booster(model, lib, original, initial, target)
    except ConversionError:
        raise
    except Exception as exc:  # the converters raise many kinds of errors
        raise conversion_error(model, exc, converter="onnxmltools") from exc
    if in_double:
        double.double_input(onx)
    _free_batch_dims(onx)
    kind, labels, reference = _reference(objective, scores, lib)
    return Exported(
        data=onx.SerializeToString(),
        framework=lib,
        framework_version=version_of(lib),
        libraries={"onnxmltools": version_of("onnxmltools"), "objective": objective},
        kind=kind,
        labels=labels,
        reference=reference,
        feeds={"input": x},
        precision=precision,
    )


def _convert_booster(
    model: Any, lib: str, x: np.ndarray, initial: list[Any], target: int
) -> tuple[Any, str, np.ndarray]:
    """(the ONNX model, the Booster's objective, its own predictions on `x`)."""
    import onnxmltools

    if lib == "xgboost":
        import xgboost

        objective = json.loads(model.save_config())["learner"]["objective"]["name"]
        scores = np.asarray(model.predict(xgboost.DMatrix(x, feature_names=model.feature_names)))
        unnamed = model.copy()
        unnamed.feature_names = None  # see without_feature_names
        onx = onnxmltools.convert_xgboost(unnamed, initial_types=initial, target_opset=target)
    else:
        objective = str(model.dump_model().get("objective", "")).split(" ")[0]
        scores = np.asarray(model.predict(x))
        onx = onnxmltools.convert_lightgbm(
            model, initial_types=initial, target_opset=target, zipmap=False
        )
    return onx, objective, scores


_CLASSIFIERS = ("binary:", "multi:", "binary", "multiclass", "multiclassova", "cross_entropy")


def _reference(
    objective: str, scores: np.ndarray, lib: str
) -> tuple[str, tuple[Any, ...] | None, dict[str, np.ndarray]]:
    """What the converted graph outputs, from the Booster's own predictions."""
    if objective.startswith(_CLASSIFIERS) and objective not in ("multi:softmax", "binary:hinge"):
        # binary: the Booster gives the positive class's probability only
        proba = np.column_stack([1.0 - scores, scores]) if scores.ndim == 1 else scores
        labels = tuple(range(proba.shape[1]))
        return "classifier", labels, {"label": proba.argmax(axis=1), "probabilities": proba}
    if objective.startswith(("multi:softmax", "binary:hinge", "rank:", "lambdarank")):
        raise ConversionError(
            f"the {lib} objective {objective!r} is not supported for serving; train with a "
            "probability objective (binary:logistic, multi:softprob) or a regression one"
        )
    return "regressor", None, {"variable": scores.reshape(len(scores), -1)}


def _free_batch_dims(onx: Any) -> None:
    """onnxmltools declares LightGBM's label output as shape [1]; it is one per row."""
    for output in onx.graph.output:
        dims = output.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value") and dims[0].dim_value == 1:
            dims[0].Clear()
