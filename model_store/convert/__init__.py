"""Convert a trained model to ONNX, with a parity check that refuses a bad conversion.

from model_store.convert import convert
converted = convert(model, sample_rows, name="digits")
manifest, created = LocalStore().register(converted.data, converted.manifest)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from model_store.convert import double
from model_store.convert.base import Converted, Exported, finish
from model_store.convert.failure import short
from model_store.exceptions import ConversionError, ParityError
from model_store.onnx_checks import check_onnx_safe
from model_store.tolerances import DEFAULT_ATOL, DEFAULT_RTOL

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
    precision: str | None = None,
) -> Converted:
    """Export `model` (scikit-learn, XGBoost, LightGBM, PyTorch module, torch.export program or
    TorchScript module, Keras 3) and check parity on `sample`: an array, inputs by name, or
    (scikit-learn) a pandas DataFrame.

    A tree ensemble whose float32 conversion fails parity is converted again with
    double-precision thresholds and values (convert/double.py); `precision` ("float32" or
    "float64") asks for one precision only. The manifest records the precision used.
    """
    if precision is not None and precision not in double.PRECISIONS:
        raise ConversionError(f"precision {precision!r}: use one of {list(double.PRECISIONS)}")
    label_tuple = tuple(labels) if labels is not None else None
    export, in_double = _exporter(model, sample, opset, label_tuple, output_names)
    if precision == "float64" and not in_double:
        raise ConversionError(
            f"a {type(model).__name__} cannot be converted in double precision; only scikit-learn, "
            "XGBoost and LightGBM models can"
        )

    def checked(exported: Exported) -> Converted:
        return finish(
            exported, name=name, atol=atol, rtol=rtol, description=description, labels=label_tuple
        )

    first = export(precision or "float32")
    try:
        return checked(first)
    except ParityError as exc:
        if precision is not None or not in_double or not double.has_trees(_proto(first.data)):
            raise
        in_float32 = exc
    try:
        return checked(export("float64"))
    except ConversionError as exc:
        raise ParityError(
            f"{in_float32} Double-precision trees were tried too: {short(str(exc), 300)}"
        ) from in_float32


def _exporter(
    model: Any,
    sample: Any,
    opset: int | None,
    labels: tuple[Any, ...] | None,
    output_names: Sequence[str] | None,
) -> tuple[Callable[[str], Exported], bool]:
    """(the framework's export for a precision, whether it can convert in double)."""
    from model_store.convert import boosters
    from model_store.convert import keras as keras_export
    from model_store.convert import sklearn as sk_export
    from model_store.convert import torch as torch_export

    if boosters.is_booster(model):
        rows = _single(sample, "Booster")
        return lambda p: boosters.export(model, rows, opset=opset, precision=p), True
    if sk_export.is_sklearn(model):
        table = _tabular(sample)
        return lambda p: sk_export.export(model, table, opset=opset, precision=p), True
    if keras_export.is_keras(model):  # before torch: Keras layers on torch are nn.Modules
        x = _single(sample, "Keras")
        return lambda p: keras_export.export(
            model, x, labels=labels, output_names=output_names
        ), False
    if torch_export.is_torch(model):
        return lambda p: torch_export.export(
            model, sample, opset=opset, output_names=output_names, labels=labels
        ), False
    raise ConversionError(
        f"cannot convert a {type(model).__module__}.{type(model).__name__}: Slipway converts "
        "scikit-learn estimators and pipelines, XGBoost and LightGBM models, PyTorch modules, "
        "torch.export programs and TorchScript modules, and Keras 3 models, or registers an "
        "existing ONNX file"
    )


def _proto(data: bytes) -> Any:
    import onnx

    return onnx.load_model_from_string(data)


def from_onnx(
    data: bytes,
    *,
    name: str,
    sample: np.ndarray | Mapping[str, np.ndarray] | None = None,
    labels: Sequence[Any] | None = None,
    description: str = "",
) -> Converted:
    """Register an ONNX file as it is: safety and schema checks; no original to compare."""
    check_onnx_safe(data)  # before onnxruntime reads it: a bad file is a clear UnsafeModel
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
        precision=None,
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
