"""Parity: the ONNX session must reproduce the original model on sample inputs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from model_store.exceptions import ParityError
from model_store.manifest import Parity


def run_onnx(data: bytes, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def compare(
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    *,
    atol: float,
    rtol: float,
) -> Parity:
    """Compare outputs by name; integer and string outputs must match exactly."""
    max_abs = 0.0
    max_rel = 0.0
    mismatches = 0
    passed = True
    samples = 0
    for name, want in expected.items():
        if name not in actual:
            raise ParityError(f"the ONNX model has no output {name!r}; it has {sorted(actual)}")
        got = np.asarray(actual[name])
        want = np.asarray(want)
        if got.shape != want.shape:
            raise ParityError(
                f"output {name!r}: ONNX shape {got.shape} differs from the original's {want.shape}"
            )
        samples = max(samples, int(want.shape[0]) if want.ndim else 1)
        if want.dtype.kind in "iubUSO":
            bad = int(np.sum(got.astype(want.dtype) != want)) if want.size else 0
            mismatches += bad
            passed = passed and bad == 0
            continue
        want64 = want.astype(np.float64)
        diff = np.abs(got.astype(np.float64) - want64)
        if diff.size:
            max_abs = max(max_abs, float(diff.max()))
            max_rel = max(max_rel, float((diff / np.maximum(np.abs(want64), 1e-12)).max()))
            passed = passed and bool(np.all(diff <= atol + rtol * np.abs(want64)))
    return Parity(
        max_abs_diff=max_abs,
        max_rel_diff=max_rel,
        atol=atol,
        rtol=rtol,
        samples=samples,
        passed=passed,
        label_mismatches=mismatches,
    )


def require(parity: Parity, model: str) -> None:
    if not parity.passed:
        raise ParityError(
            f"{model}: the ONNX model differs from the original beyond tolerance "
            f"(max abs diff {parity.max_abs_diff:.3g}, max rel diff {parity.max_rel_diff:.3g}, "
            f"{parity.label_mismatches} label mismatches; atol={parity.atol}, rtol={parity.rtol}). "
            "Conversion refused. Raise the tolerance with --atol/--rtol only if that is acceptable."
        )
