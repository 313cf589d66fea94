"""DataFrame samples: one named ONNX input per column, with the column's own dtype.

pandas is imported only when a sample is a DataFrame (the `convert` extra); serving never
imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from model_store.exceptions import ConversionError
from model_store.manifest import Column

# ONNX input dtype (numpy name, as in the manifest) for a pandas column's dtype kind.
_FLOAT, _INT, _STR = "float32", "int64", "str"


def is_dataframe(sample: Any) -> bool:
    return any(
        c.__module__.startswith("pandas") and c.__name__ == "DataFrame"
        for c in type(sample).__mro__
    )


def from_mapping(sample: Mapping[str, Any]) -> Any:
    """Columns given by name (.npz, JSON) as a DataFrame, each one 1-D."""
    import pandas as pd

    columns = {}
    for name, values in sample.items():
        arr = np.asarray(values)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ConversionError(
                f"sample column {name!r} must be 1-D (one value per row); got shape {arr.shape}"
            )
        columns[name] = arr
    return pd.DataFrame(columns)


def column_dtype(name: str, series: Any) -> str:
    kind = series.dtype.kind
    if kind == "f":
        return _FLOAT
    if kind in "iu":
        return _INT
    if kind == "b":
        raise ConversionError(
            f"sample column {name!r} is boolean; cast it to int (0/1) or str before fitting"
        )
    if kind in "OUS" or str(series.dtype) in ("category", "string", "str"):
        values = series.dropna().map(type).unique()
        if len(series.dropna()) != len(series):
            raise ConversionError(f"sample column {name!r} has missing values; fill them first")
        if any(t is not str for t in values):
            raise ConversionError(
                f"sample column {name!r} mixes strings with {sorted(t.__name__ for t in values)}; "
                "a column must hold one type"
            )
        return _STR
    raise ConversionError(
        f"sample column {name!r} has dtype {series.dtype}, which Slipway cannot serve as JSON; "
        "use float, int or string columns"
    )


def columns_of(frame: Any) -> tuple[Column, ...]:
    """Each column's name, the ONNX input's dtype and the DataFrame's own dtype."""
    if not len(frame):
        raise ConversionError("the sample DataFrame has no rows")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names) or names != list(frame.columns):
        raise ConversionError("sample columns must have unique string names")
    return tuple(
        Column(
            name=name, dtype=column_dtype(name, frame[name]), source_dtype=str(frame[name].dtype)
        )
        for name in names
    )


def in_precision(columns: tuple[Column, ...], precision: str) -> tuple[Column, ...]:
    """The columns with their float inputs in `precision` (float32, or float64 for trees)."""
    return tuple(replace(c, dtype=precision) if c.dtype == _FLOAT else c for c in columns)


def feeds_of(frame: Any, columns: tuple[Column, ...]) -> dict[str, np.ndarray]:
    """The ONNX feeds for `frame`: one (rows, 1) array per column."""
    out: dict[str, np.ndarray] = {}
    for col in columns:
        values = frame[col.name].to_numpy()
        if col.dtype == _STR:
            arr = np.asarray([str(v) for v in values], dtype=object)
        else:
            arr = values.astype(np.dtype(col.dtype))
        out[col.name] = arr.reshape(-1, 1)
    return out


def initial_types(columns: tuple[Column, ...]) -> list[tuple[str, Any]]:
    """skl2onnx's input types, one per column."""
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    types = {
        _FLOAT: FloatTensorType,
        "float64": DoubleTensorType,
        _INT: Int64TensorType,
        _STR: StringTensorType,
    }
    return [(c.name, types[c.dtype]([None, 1])) for c in columns]


def restore_input_names(onx: Any, names: list[str]) -> None:
    """Give the graph's inputs the DataFrame's column names back.

    skl2onnx makes names identifiers ("mean radius" becomes "mean_radius"); requests name
    the fields as the DataFrame does. Inputs keep skl2onnx's order, the columns' order.
    """
    graph = onx.graph
    if len(graph.input) != len(names):
        raise ConversionError(
            f"the ONNX model has {len(graph.input)} inputs for {len(names)} sample columns"
        )
    renamed = {i.name: n for i, n in zip(graph.input, names, strict=True) if i.name != n}
    if not renamed:
        return
    for value in graph.input:
        value.name = renamed.get(value.name, value.name)
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in renamed:
                node.input[k] = renamed[name]
