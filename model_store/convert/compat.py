"""Fixes for known converter bugs with the library versions the `convert` extra pins.

Each fix is as narrow as the bug, applied once per process before a conversion, and
harmless when the library is already fixed; tests/model_store/test_tabular_matrix.py proves
the families it concerns convert with parity.
"""

from __future__ import annotations

import functools
from typing import Any

_APPLIED: set[str] = set()


def apply() -> None:
    if "hgb_missing_flag" not in _APPLIED:
        _hist_gradient_boosting_missing_flag()
        _APPLIED.add("hgb_missing_flag")
    if "linear_svc_zipmap" not in _APPLIED:
        _linear_svc_zipmap_option()
        _APPLIED.add("linear_svc_zipmap")


def _linear_svc_zipmap_option() -> None:
    """skl2onnx's parser asks every classifier for its `zipmap` option, but LinearSVC's
    converter does not declare one, so any LinearSVC failed (`Option 'zipmap' not in ['nocl',
    'output_class_labels', 'raw_scores'] for class 'LinearSVC'`), with or without options.
    Declare the option the parser already handles for it."""
    from skl2onnx.common._registration import _converter_pool

    options = _converter_pool["SklearnLinearSVC"].get_allowed_options()
    if options is not None:
        options.setdefault("zipmap", [True, False, "columns"])


def _hist_gradient_boosting_missing_flag() -> None:
    """skl2onnx 1.20 gives HistGradientBoosting's leaves the Python bool `False` as their
    `nodes_missing_value_tracks_true` entry. protobuf 7.34 and later refuse a bool in an int
    list (`Field onnx.AttributeProto.ints: Expected an int, got a boolean`; 6.x only warned),
    so every HistGradientBoosting* failed to convert. The flag is 0/1 by ONNX's definition:
    pass it as an int."""
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node
    if getattr(original, "_slipway_fixed", False):
        return

    @functools.wraps(original)
    def add_node(*args: Any, **kwargs: Any) -> Any:
        flag = kwargs.get("nodes_missing_value_tracks_true")
        if flag is not None:
            kwargs["nodes_missing_value_tracks_true"] = int(flag)
        return original(*args, **kwargs)

    add_node._slipway_fixed = True  # type: ignore[attr-defined]
    tree_ensemble.add_node = add_node


def revert_for_tests() -> None:
    """Undo the fixes (tests show what the unfixed libraries do)."""
    from skl2onnx.common import tree_ensemble

    wrapped = getattr(tree_ensemble.add_node, "__wrapped__", None)
    if wrapped is not None:
        tree_ensemble.add_node = wrapped
    _APPLIED.clear()
