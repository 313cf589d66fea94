"""PyTorch modules to ONNX with torch.onnx (the torch.export-based exporter)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from model_store.convert.base import Exported
from model_store.exceptions import ConversionError


def is_torch(model: Any) -> bool:
    return any(
        c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(model).__mro__
    )


def export(
    model: Any,
    sample: np.ndarray | Mapping[str, np.ndarray],
    *,
    opset: int | None,
    output_names: Sequence[str] | None = None,
    labels: tuple[Any, ...] | None = None,
) -> Exported:
    import torch

    feeds = dict(sample) if isinstance(sample, Mapping) else {"input": np.asarray(sample)}
    feeds = {
        k: np.ascontiguousarray(v, dtype=np.float32 if v.dtype.kind == "f" else v.dtype)
        for k, v in feeds.items()
    }
    args = tuple(torch.from_numpy(v) for v in feeds.values())
    model = model.eval()
    with torch.no_grad():
        out = model(*args)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    names = list(
        output_names
        or (["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))])
    )
    if len(names) != len(outs):
        raise ConversionError(
            f"the module returns {len(outs)} outputs but {len(names)} names were given"
        )
    batch = torch.export.Dim("batch", min=1)
    dynamic = tuple({0: batch} for _ in args)
    try:
        program = torch.onnx.export(
            model,
            args,
            input_names=list(feeds),
            output_names=names,
            dynamic_shapes=dynamic,
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
        assert program is not None
        data = program.model_proto.SerializeToString()
    except Exception as exc:  # the exporter raises many kinds of errors
        raise ConversionError(f"torch.onnx could not export {type(model).__name__}: {exc}") from exc
    reference = {n: o.detach().numpy() for n, o in zip(names, outs, strict=True)}
    return Exported(
        data=data,
        framework="pytorch",
        framework_version=torch.__version__,
        libraries={},
        kind="classifier" if labels else "generic",
        labels=labels,
        reference=reference,
        feeds=feeds,
    )
