"""The parity check for images: the ONNX model fed by Slipway's own preprocessing against the
original model fed by its framework's reference preprocessing (references.py), on sample
image files. The scores (after the model's function_to_apply) must agree within `atol` and
the top-1 class must be the same on every image; each step's difference is recorded, and a
refusal names the first step that differs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from functions.predict.exceptions import HTTPError
from functions.predict.processing.image import preprocess
from functions.predict.processing.image_spec import ImageSpec
from functions.predict.processing.labels import apply
from model_store.convert.parity import run_onnx
from model_store.exceptions import ConversionError, ParityError
from model_store.images import Preprocessing
from model_store.images.references import reference

# Scores of probabilities: a JPEG decoded at reduced scale moves pixels by a few levels in
# 255, which moves a small CNN's probabilities by ~1e-3 (tests/model_store/test_images.py).
DEFAULT_IMAGE_ATOL = 2e-2
# Registration decodes sample images of any size the serving limit would take.
_MAX_PIXELS = 80_000_000
STEPS = ("decoded", "resized", "cropped", "tensor")


def check(
    model: Any,
    onnx: bytes,
    *,
    prep: Preprocessing,
    spec: ImageSpec,
    output: str,
    function: str,
    images: Sequence[tuple[str, bytes]],
    atol: float = DEFAULT_IMAGE_ATOL,
) -> dict[str, Any]:
    """The check's record for the manifest (Parity.checks["images"]); ParityError beyond
    tolerance, naming the image, the scores' difference and the first step that differs."""
    traces: list[dict[str, Any]] = []
    ours = []
    for name, data in images:
        trace: dict[str, Any] = {}
        try:
            ours.append(preprocess(data, spec, _MAX_PIXELS, trace))
        except HTTPError as err:
            raise ConversionError(f"sample image {name}: {err.message}") from err
        traces.append(trace)
    refs = [reference(prep, spec, data) for _, data in images]
    got = run_onnx(onnx, {spec.name: np.stack(ours)})[output]
    want = run_original(model, np.stack([r["tensor"] for r in refs]))
    got = apply(function, np.asarray(got, np.float64).reshape(len(images), -1))
    want = apply(function, np.asarray(want, np.float64).reshape(len(images), -1))
    diffs = np.abs(got - want).max(axis=1)
    same_top1 = got.argmax(axis=1) == want.argmax(axis=1)
    steps = [_steps(t, r, spec) for t, r in zip(traces, refs, strict=True)]
    record = {
        "reference": prep.reference,
        "preprocess": prep.source,
        "images": len(images),
        "max_abs_diff": float(diffs.max()),
        "top1_agree": int(same_top1.sum()),
        "atol": atol,
        "reduced_decode": sum(bool(t["reduced"]) for t in traces),
        "steps": {s: max((d.get(s, 0.0) for d in steps), default=0.0) for s in STEPS},
    }
    bad = [i for i in range(len(images)) if diffs[i] > atol or not same_top1[i]]
    if bad:
        i = bad[0]
        raise ParityError(
            f"image preprocessing: on {images[i][0]} the ONNX model with Slipway's preprocessing "
            f"scores differently from the original with {prep.reference}'s (max abs diff "
            f"{diffs[i]:.3g}, atol {atol}; top-1 {'same' if same_top1[i] else 'differs'}): "
            f"{_culprit(steps[i], traces[i], spec)}. Registration refused."
        )
    return record


def run_original(model: Any, batch: np.ndarray) -> np.ndarray:
    """The original model's first output on `batch`, in its framework."""
    from model_store.convert.keras import is_keras

    if is_keras(model):
        out = model.predict(batch, verbose=0)
    else:
        import torch

        if any(c.__name__ == "ExportedProgram" for c in type(model).__mro__):
            module = model.module()  # a program's graph runs as it was exported (no eval())
        else:
            module = model.eval()
        with torch.no_grad():
            out = module(torch.from_numpy(np.ascontiguousarray(batch)))
    first = out[0] if isinstance(out, list | tuple) else out
    if hasattr(first, "detach"):
        first = first.detach().cpu().numpy()
    return np.asarray(first)


def _steps(trace: Mapping[str, Any], ref: Mapping[str, Any], spec: ImageSpec) -> dict[str, float]:
    """Max abs difference at each step both sides computed (pixel levels; the tensor's
    units for the tensor); -1 where the shapes differ."""
    out: dict[str, float] = {}
    for step in STEPS:
        if step not in ref or step not in trace or (step == "decoded" and trace["reduced"]):
            continue
        a, b = np.asarray(trace[step]), np.asarray(ref[step])
        if a.shape != b.shape:
            out[step] = -1.0
            continue
        out[step] = (
            float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0
        )
    return out


def _culprit(steps: Mapping[str, float], trace: Mapping[str, Any], spec: ImageSpec) -> str:
    """The first step that differs by more than rounding (a level in 255, or its size in the
    tensor's units)."""
    level = abs((spec.rescale or 1.0) / min(abs(s) for s in (spec.std or (1.0,))))
    for step in STEPS:
        if step not in steps:
            continue
        value = steps[step]
        if value < 0:
            return f"the {step} step gives another shape than the reference's: check the spec's sizes and layout"
        limit = 2.5 * level if step == "tensor" else 2.0
        if value > limit:
            if step in ("resized", "cropped") and trace["reduced"] and steps.get("decoded") is None:
                return (
                    f"the {step} pixels differ by up to {value:.0f} levels after the JPEG was "
                    'decoded at reduced scale: set "reduce": false in the spec to decode at full scale'
                )
            return f"the first step that differs is {step} (max abs diff {value:.3g})"
    return "the preprocessing steps agree to rounding; the models' outputs differ (check the conversion)"
