"""PyTorch to ONNX: modules, torch.export programs (.pt2) and TorchScript modules.

- an `nn.Module` (in memory, or a pickled one): torch.onnx's torch.export-based exporter;
- an `ExportedProgram` (`torch.export.save`, the format PyTorch recommends for deployment): its
  graph as a module, exported the same way. A program exported with a fixed batch keeps the
  sizes its graph computes with; the batch is made free again when the graph allows it;
- a TorchScript module (`torch.jit.save` of a trace or script): torch.onnx's TorchScript
  exporter, the one made for it (the torch.export one refuses ScriptModules).

Every graph gets a free batch dimension, checked by running it on another batch size, and
outputs named for what they hold (outputs.py).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_store.convert.base import Exported
from model_store.convert.failure import short
from model_store.convert.outputs import output_names as name_outputs
from model_store.exceptions import ConversionError

BATCH = "batch"


def is_torch(model: Any) -> bool:
    return any(
        (c.__module__.startswith("torch.nn") and c.__name__ == "Module")
        or (c.__module__.startswith("torch.export") and c.__name__ == "ExportedProgram")
        for c in type(model).__mro__
    )


def _is_script(model: Any) -> bool:
    return any(
        c.__module__.startswith("torch.jit") and c.__name__ == "ScriptModule"
        for c in type(model).__mro__
    )


def _is_program(model: Any) -> bool:
    return any(c.__name__ == "ExportedProgram" for c in type(model).__mro__)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """torch's exporters warn and log at length (deprecations, torchvision missing): the CLI
    prints one line of progress, and errors are raised, never logged."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


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
    what = type(model).__name__
    training = bool(getattr(model, "training", False))
    try:
        with quiet():
            module = _runnable(model)
            outs = _run(module, args, what)
            names = name_outputs(outs, given=output_names, classifier=bool(labels))
            data = _export(model, module, args, list(feeds), names, opset)
    finally:
        if training:  # the user's module as it was: a notebook may go on training it
            model.train(True)
    reference = dict(zip(names, outs, strict=True))
    _check_free_batch(data, feeds, reference, what)
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


def _export(
    model: Any,
    module: Any,
    args: tuple[Any, ...],
    inputs: list[str],
    outputs: list[str],
    opset: int | None,
) -> bytes:
    try:
        if _is_script(model):
            return _from_script(module, args, inputs, outputs, opset)
        return _from_module(module, args, inputs, outputs, opset)
    except ConversionError:
        raise
    except Exception as exc:  # the exporters raise many kinds of errors
        raise ConversionError(
            f"torch.onnx could not export the {type(model).__name__}: {type(exc).__name__}: "
            f"{short(str(exc))}; try torch.export.export(model, (x,)) yourself to see where "
            "it fails, or export to ONNX yourself and register the .onnx file"
        ) from exc


def _runnable(model: Any) -> Any:
    """A module to run and export: an ExportedProgram's graph without its input-shape guards
    (a program exported with a fixed batch refuses any other batch size until then)."""
    if not _is_program(model):
        return model.eval()
    module = model.module(check_guards=False)
    module._forward_pre_hooks.clear()  # the remaining shape checks, kept as a pre-hook
    return module


def _run(module: Any, args: tuple[Any, ...], what: str) -> list[np.ndarray]:
    import torch

    try:
        with torch.no_grad():
            out = module(*args)
    except Exception as exc:  # the user's forward: any error
        raise ConversionError(
            f"the {what} could not run on the sample ({type(exc).__name__}: {short(str(exc))}); "
            "give sample rows shaped and typed as the model's training inputs"
        ) from exc
    outs = list(out) if isinstance(out, tuple | list) else [out]
    if not all(isinstance(o, torch.Tensor) for o in outs):
        raise ConversionError(
            f"the {what} returns {type(out).__name__}; Slipway serves a tensor or a tuple of them"
        )
    return [o.detach().numpy() for o in outs]


def _from_module(
    module: Any, args: tuple[Any, ...], inputs: list[str], outputs: list[str], opset: int | None
) -> bytes:
    import torch

    batch = torch.export.Dim(BATCH, min=1)
    program = torch.onnx.export(
        module,
        args,
        input_names=inputs,
        output_names=outputs,
        dynamic_shapes=tuple({0: batch} for _ in args),
        opset_version=opset,
        dynamo=True,
        verbose=False,
    )
    if program is None:
        raise ConversionError("torch.onnx returned no program")
    return program.model_proto.SerializeToString()  # type: ignore[no-any-return]


def _from_script(
    module: Any, args: tuple[Any, ...], inputs: list[str], outputs: list[str], opset: int | None
) -> bytes:
    import torch

    axes = {name: {0: BATCH} for name in [*inputs, *outputs]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        torch.onnx.export(
            module,
            args,
            path,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,  # the TorchScript exporter: the torch.export one refuses ScriptModules
        )
        return path.read_bytes()


def _check_free_batch(
    data: bytes, feeds: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], what: str
) -> None:
    """Run the graph on a batch of another size than the sample's: a graph that computes with
    the sample's batch size (a traced `view(20, -1)`) fails or answers differently."""
    import onnxruntime as ort

    rows = len(next(iter(feeds.values())))
    size = 1 if rows > 1 else 2
    take = np.arange(size) % rows
    options = ort.SessionOptions()
    options.log_severity_level = 4  # a failure here is expected and reported below, not logged
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    fixed = [i.name for i in session.get_inputs() if i.shape and isinstance(i.shape[0], int)]
    hint = (
        "its graph computes with the sample's batch size. Leave the batch free: x.shape[0] or "
        "-1 in forward, not a number, and torch.export.export(model, (x,), "
        "dynamic_shapes=({0: torch.export.Dim('batch')},)) for a program"
    )
    if fixed:
        raise ConversionError(f"the {what} takes a fixed batch of {rows} rows: {hint}")
    try:
        got = session.run(list(reference), {k: v[take] for k, v in feeds.items()})
    except Exception as exc:  # onnxruntime's errors are untyped
        raise ConversionError(
            f"the converted {what} fails on a batch of {size} ({short(str(exc), 160)}): {hint}"
        ) from exc
    for (name, want), out in zip(reference.items(), got, strict=True):
        if want.ndim and not np.allclose(out, want[take], rtol=1e-3, atol=1e-4):
            raise ConversionError(
                f"the converted {what} answers a batch of {size} differently from the same rows "
                f"in the sample (output {name!r}): {hint}"
            )
