"""Convert a trained model to ONNX, with a parity check that refuses a bad conversion.

from model_store.convert import convert
converted = convert(model, sample_rows, name="digits")
manifest, created = LocalStore().register(converted.data, converted.manifest)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from model_store.convert.base import DEFAULT_ATOL, DEFAULT_RTOL, Converted, Exported, finish
from model_store.exceptions import ConversionError

__all__ = ["DEFAULT_ATOL", "DEFAULT_RTOL", "Converted", "convert", "from_onnx"]


def convert(
    model: Any,
    sample: Any,
    *,
    name: str,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    labels: Sequence[Any] | None = None,
    output_names: Sequence[str] | None = None,
    opset: int | None = None,
    description: str = "",
) -> Converted:
    """Export `model` (scikit-learn, XGBoost, LightGBM, PyTorch or Keras 3) and check parity
    on `sample`: an array, inputs by name, or (scikit-learn) a pandas DataFrame."""
    from model_store.convert import boosters
    from model_store.convert import keras as keras_export
    from model_store.convert import sklearn as sk_export
    from model_store.convert import torch as torch_export

    label_tuple = tuple(labels) if labels is not None else None
    exported: Exported
    if boosters.is_booster(model):
        exported = boosters.export(model, _single(sample, "Booster"), opset=opset)
    elif sk_export.is_sklearn(model):
        exported = sk_export.export(model, _tabular(sample), opset=opset)
    elif keras_export.is_keras(model):  # before torch: Keras layers on torch are nn.Modules
        exported = keras_export.export(model, _single(sample, "Keras"), labels=label_tuple)
    elif torch_export.is_torch(model):
        exported = torch_export.export(
            model, sample, opset=opset, output_names=output_names, labels=label_tuple
        )
    else:
        raise ConversionError(
            f"cannot convert a {type(model).__module__}.{type(model).__name__}: Slipway converts "
            "scikit-learn estimators and pipelines, XGBoost and LightGBM models, PyTorch modules "
            "and Keras 3 models, or registers an existing ONNX file"
        )
    return finish(
        exported, name=name, atol=atol, rtol=rtol, description=description, labels=label_tuple
    )


def from_onnx(
    data: bytes,
    *,
    name: str,
    sample: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: Sequence[Any] | None = None,
    description: str = "",
) -> Converted:
    """Register an ONNX file as it is: safety and schema checks; no original to compare."""
    feeds = None
    if sample is not None:
        import onnxruntime as ort

        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        feeds = dict(sample) if isinstance(sample, Mapping) else {names[0]: np.asarray(sample)}
    exported = Exported(
        data=data,
        framework="onnx",
        framework_version="",
        libraries={},
        kind="classifier" if labels else "generic",
        labels=tuple(labels) if labels is not None else None,
        reference=None,
        feeds=feeds,
    )
    return finish(exported, name=name, description=description)


def _tabular(sample: Any) -> Any:
    """A DataFrame as it is; inputs by name are columns, unless one matrix is given by name."""
    if isinstance(sample, Mapping) and len(sample) == 1:
        (only,) = sample.values()
        if np.ndim(only) == 2 and np.shape(only)[1] > 1:
            return np.asarray(only)
    return sample


def _single(sample: Any, framework: str) -> np.ndarray:
    if isinstance(sample, Mapping):
        if len(sample) != 1:
            raise ConversionError(f"{framework} models take one input; got {sorted(sample)}")
        (only,) = sample.values()
        return np.asarray(only)
    return np.asarray(sample)
