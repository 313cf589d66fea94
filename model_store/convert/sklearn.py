"""scikit-learn estimators and pipelines to ONNX, with skl2onnx."""

from __future__ import annotations

from typing import Any

import numpy as np

from model_store.convert.base import Exported
from model_store.exceptions import ConversionError


def is_sklearn(model: Any) -> bool:
    return type(model).__module__.startswith("sklearn.") and hasattr(model, "predict")


def export(model: Any, sample: np.ndarray, *, opset: int | None) -> Exported:
    import skl2onnx
    import sklearn
    from skl2onnx.common.data_types import FloatTensorType

    x = np.asarray(sample, dtype=np.float32)
    if x.ndim != 2:
        raise ConversionError(
            f"scikit-learn sample inputs must be 2-D (rows, features); got {x.shape}"
        )
    is_classifier = hasattr(model, "classes_") and hasattr(model, "predict_proba")
    options = {"zipmap": False} if is_classifier else None  # plain tensors, not lists of maps
    try:
        onx = skl2onnx.to_onnx(
            model,
            initial_types=[("input", FloatTensorType([None, x.shape[1]]))],
            options=options,
            target_opset=opset,
        )
    except Exception as exc:  # skl2onnx raises many types for unsupported estimators
        raise ConversionError(f"skl2onnx cannot convert {type(model).__name__}: {exc}") from exc
    if is_classifier:
        labels = tuple(v.item() if hasattr(v, "item") else v for v in model.classes_)
        reference = {"label": np.asarray(model.predict(x)), "probabilities": model.predict_proba(x)}
        kind = "classifier"
    else:
        labels = None
        reference = {"variable": np.asarray(model.predict(x)).reshape(len(x), -1)}
        kind = "regressor"
    return Exported(
        data=onx.SerializeToString(),
        framework="scikit-learn",
        framework_version=sklearn.__version__,
        libraries={"skl2onnx": skl2onnx.__version__},
        kind=kind,
        labels=labels,
        reference=reference,
        feeds={"input": x},
    )
