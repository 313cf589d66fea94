"""What every framework exporter returns, and how it becomes a verified manifest draft."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from model_store.convert.parity import compare, require, run_onnx
from model_store.manifest import Column, Manifest, sha256_hex
from model_store.onnx_checks import check_onnx_safe, opset_of
from model_store.tolerances import DEFAULT_ATOL, DEFAULT_RTOL

EXAMPLE_ROWS = 1


@dataclass(frozen=True)
class Exported:
    data: bytes
    framework: str
    framework_version: str
    libraries: Mapping[str, str]
    kind: str
    labels: tuple[Any, ...] | None
    # The original model's outputs on `feeds`, keyed by ONNX output name (None: ONNX given).
    reference: Mapping[str, np.ndarray] | None
    feeds: Mapping[str, np.ndarray] | None
    # Fitted on a DataFrame: one (rows, 1) input per column, named as the column.
    columns: tuple[Column, ...] | None = None
    # What the graph computes in (float32; float64: double-precision trees); None: ONNX given.
    precision: str | None = "float32"
    # The manifest's processing (a text model's: texts in, labels out) and the example body
    # that goes with it (default: one row of `feeds` in the tensors' form).
    processing: Mapping[str, Any] | None = None
    example: Mapping[str, Any] | None = None
    # What parity compared besides the outputs (a text pipeline's tokenizer): parity.checks.
    checks: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Converted:
    data: bytes
    manifest: Manifest  # a draft: version 0 until a store registers it
    # Files stored beside the model (a text model's tokenizer.json), as manifest.assets lists.
    assets: Mapping[str, bytes] | None = None


# Distributions that install the same module under another name (xgboost-cpu: no CUDA libraries).
_ALIASES = {"xgboost": ("xgboost", "xgboost-cpu")}


def version_of(dist: str) -> str:
    """The installed version of `dist` (or of a distribution of the same module)."""
    for name in _ALIASES.get(dist, (dist,)):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def example_body(
    feeds: Mapping[str, np.ndarray] | None, columns: tuple[Column, ...] | None = None
) -> dict[str, Any] | None:
    if not feeds:
        return None
    if columns:  # a tabular model's rows as records: {"instances": [{"age": 41, ...}]}
        rows = range(min(EXAMPLE_ROWS, len(next(iter(feeds.values())))))
        return {
            "instances": [{c.name: _scalar(feeds[c.name][i, 0]) for c in columns} for i in rows]
        }
    if len(feeds) == 1:
        (only,) = feeds.values()
        return {"inputs": np.asarray(only)[:EXAMPLE_ROWS].tolist()}
    return {"inputs": {k: np.asarray(v)[:EXAMPLE_ROWS].tolist() for k, v in feeds.items()}}


def _scalar(value: Any) -> Any:
    if isinstance(value, np.float32):
        return float(str(value))  # 17.99, not 17.989999771118164: the shortest that round-trips
    return value.item() if hasattr(value, "item") else value  # numpy scalars; str as it is


def finish(
    exported: Exported,
    *,
    name: str,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    description: str = "",
    labels: tuple[Any, ...] | None = None,
) -> Converted:
    """Check safety, run parity (refusing beyond tolerance) and describe the result."""
    from model_store.loader import session_specs

    proto = check_onnx_safe(exported.data)
    parity = None
    if exported.reference is not None and exported.feeds is not None:
        parity = compare(
            exported.reference, run_onnx(exported.data, exported.feeds), atol=atol, rtol=rtol
        )
        require(parity, f"model {name}")
        if exported.checks:
            parity = replace(parity, checks=dict(exported.checks))
    import onnxruntime as ort

    session = ort.InferenceSession(exported.data, providers=["CPUExecutionProvider"])
    inputs, outputs = session_specs(session)
    libraries = {
        "onnx": version_of("onnx"),
        "onnxruntime": version_of("onnxruntime"),
        "numpy": version_of("numpy"),
        **exported.libraries,
    }
    manifest = Manifest(
        name=name,
        version=0,
        sha256=sha256_hex(exported.data),
        size_bytes=len(exported.data),
        framework=exported.framework,
        framework_version=exported.framework_version,
        library_versions=libraries,
        opset=opset_of(proto),
        inputs=inputs,
        outputs=outputs,
        kind=exported.kind,
        labels=labels if labels is not None else exported.labels,
        parity=parity,
        description=description,
        example=exported.example or example_body(exported.feeds, exported.columns),
        columns=exported.columns,
        precision=exported.precision,
        processing=exported.processing,
    )
    return Converted(data=exported.data, manifest=manifest)
