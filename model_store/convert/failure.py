"""A converter's failure as a few lines a user can act on, never the model's arrays.

skl2onnx and onnxmltools put whole attribute dicts (every threshold of every tree) into their
messages: hundreds of kilobytes. This keeps the failing estimator and its step, the innermost
cause's first line (cut), the library versions and what to try.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from model_store.convert.base import version_of
from model_store.exceptions import ConversionError

MAX_CAUSE_CHARS = 240
_LIBRARIES = (
    "scikit-learn",
    "skl2onnx",
    "onnxmltools",
    "xgboost",
    "lightgbm",
    "onnx",
    "protobuf",
    "onnxruntime",
)
# Where a converter's message starts printing its attributes or arrays.
_DUMP = re.compile(r"\s(?:and |with )?attributes=|\barray\(|\{'|\[\[")


def versions() -> str:
    found = ((dist, version_of(dist)) for dist in _LIBRARIES)
    return ", ".join(f"{dist} {v}" for dist, v in found if v != "not installed")


def short(text: str, limit: int = MAX_CAUSE_CHARS) -> str:
    """The first line of `text`, cut before any dump of attributes or arrays, at most `limit`."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    match = _DUMP.search(line)
    if match:
        line = line[: match.start()].rstrip(" ,:") + " …"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _failing_estimator(exc: BaseException) -> Any:
    """The estimator a converter was working on when it raised (its `operator` argument)."""
    found = None
    for err in _chain(exc):
        tb: TracebackType | None = err.__traceback__
        while tb is not None:
            op = tb.tb_frame.f_locals.get("operator")
            raw = getattr(op, "raw_operator", None)
            if raw is not None:
                found = raw  # the innermost frame wins: the estimator inside a pipeline
            tb = tb.tb_next
    return found


def _children(est: Any) -> list[tuple[str, Any]] | None:
    """(name, step) of a Pipeline, ColumnTransformer or FeatureUnion; None for a leaf."""
    if hasattr(est, "steps"):
        return list(est.steps)
    if hasattr(est, "transformers_"):
        return [(name, t) for name, t, _ in est.transformers_]
    if hasattr(est, "transformer_list"):
        return list(est.transformer_list)
    return None


def step_path(model: Any, target: Any, prefix: str = "") -> str | None:
    """'prep > cat' for the estimator `target` inside pipelines and column transformers."""
    if model is target:
        return prefix or None
    children = _children(model)
    if children is None and hasattr(model, "estimators_") and isinstance(model.estimators_, list):
        children = [(str(i), e) for i, e in enumerate(model.estimators_)]
    for name, child in children or []:
        found = step_path(child, target, f"{prefix} > {name}" if prefix else str(name))
        if found:
            return found
    return None


def _unsupported(model: Any, supported: Any) -> tuple[str, Any] | None:
    """The first estimator in `model` that the converter has no converter for."""
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        path, est = stack.pop(0)
        if isinstance(est, str):  # 'passthrough', 'drop'
            continue
        children = _children(est)
        if children is None:
            if type(est) not in supported:
                return path, est
            children = []
        stack.extend((f"{path} > {n}" if path else str(n), c) for n, c in children)
    return None


def conversion_error(model: Any, exc: BaseException, *, converter: str) -> ConversionError:
    """The short error for `converter` (skl2onnx, onnxmltools) failing on `model`."""
    supported: Any = None
    if converter == "skl2onnx":
        # The classes skl2onnx has a converter for (ours for XGBoost and LightGBM included).
        from skl2onnx._parse import sklearn_operator_name_map

        supported = sklearn_operator_name_map
    estimator = _failing_estimator(exc)
    unsupported = (
        _unsupported(model, supported) if supported is not None and estimator is None else None
    )
    path: str | None
    if estimator is None and unsupported is not None:
        path, estimator = unsupported
    else:
        path = step_path(model, estimator) if estimator is not None else None
    what = type(estimator).__name__ if estimator is not None else type(model).__name__
    where = f"step {path!r} ({what}) of the {type(model).__name__}" if path else what
    causes = list(_chain(exc))
    innermost = causes[-1]
    cause = f"{type(innermost).__name__}: {short(str(innermost))}"
    if len(causes) > 1:
        cause = f"{type(exc).__name__}: {short(str(exc), 160)} (caused by {cause})"
    hints = []
    if supported is not None and estimator is not None and type(estimator) not in supported:
        hints.append(f"replace {what} with an estimator {converter} supports")
    hints += [
        "another opset (--opset)",
        "other versions of the libraries above",
        "exporting the model to ONNX yourself and registering the .onnx file",
    ]
    return ConversionError(
        f"{converter} could not convert {where}: {cause}\n"
        f"  versions: {versions()}\n"
        f"  try: {'; '.join(hints)}"
    )
