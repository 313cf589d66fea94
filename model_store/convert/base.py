"""What every framework exporter returns, and how it becomes a verified manifest draft."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_store.convert.parity import compare, require, run_onnx
from model_store.manifest import Manifest, sha256_hex
from model_store.onnx_checks import check_onnx_safe, opset_of

DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3
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


@dataclass(frozen=True)
class Converted:
    data: bytes
    manifest: Manifest  # a draft: version 0 until a store registers it


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def example_body(feeds: Mapping[str, np.ndarray] | None) -> dict[str, Any] | None:
    if not feeds:
        return None
    if len(feeds) == 1:
        (only,) = feeds.values()
        return {"inputs": np.asarray(only)[:EXAMPLE_ROWS].tolist()}
    return {"inputs": {k: np.asarray(v)[:EXAMPLE_ROWS].tolist() for k, v in feeds.items()}}


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
    import onnxruntime as ort

    session = ort.InferenceSession(exported.data, providers=["CPUExecutionProvider"])
    inputs, outputs = session_specs(session)
    libraries = {
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime"),
        "numpy": _version("numpy"),
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
        example=example_body(exported.feeds),
    )
    return Converted(data=exported.data, manifest=manifest)
