"""Keras 3 models to ONNX with `model.export(format="onnx")` (torch backend)."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from model_store.convert.base import Exported
from model_store.exceptions import ConversionError


def is_keras(model: Any) -> bool:
    return any(
        c.__module__.startswith("keras") and c.__name__ in ("Model", "Layer")
        for c in type(model).__mro__
    )


def export(model: Any, sample: np.ndarray, *, labels: tuple[Any, ...] | None = None) -> Exported:
    import keras

    x = np.asarray(sample, dtype=np.float32)
    reference_out = np.asarray(model.predict(x, verbose=0))  # also builds a never-called model
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        try:
            model.export(path, format="onnx", verbose=False)
        except Exception as exc:
            raise ConversionError(f"keras could not export {type(model).__name__}: {exc}") from exc
        with open(path, "rb") as fh:
            data = fh.read()
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    in_name = session.get_inputs()[0].name
    out_name = session.get_outputs()[0].name
    return Exported(
        data=data,
        framework="keras",
        framework_version=keras.__version__,
        libraries={"keras_backend": keras.backend.backend()},
        kind="classifier" if labels else "generic",
        labels=labels,
        reference={out_name: reference_out},
        feeds={in_name: x},
    )
