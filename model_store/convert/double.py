"""Tree ensembles in double precision: thresholds and leaf values as ai.onnx.ml opset 3 tensors.

ONNX's tree operators take their thresholds as a float list (`nodes_values`), so a converted
tree compares float32 numbers. scikit-learn's HistGradientBoosting* and LightGBM compare
float64 inputs with float64 thresholds: on small-valued features (±0.1) two training values
closer than a float32 step fall on one side of a rounded threshold, and the converted model
sends samples down the other branch (max abs diff in the hundreds on targets in the hundreds).
ai.onnx.ml opset 3 also takes them as double tensors (`nodes_values_as_tensor`, …), which
onnxruntime runs with double comparisons and sums; its output stays float, per the operator's
definition, and is cast to double for the graph that expects it.

skl2onnx and onnxmltools write only the float lists, so while `double_trees()` is active
their containers' `add_node` turns the tree operators' value lists (still float64 there) into
those tensors, and skl2onnx's forest classifier converter is asked for opset 3 (below it, it
rounds the values to float32 itself). The patches are process-wide while the block runs (one
conversion at a time, as the CLI and the API do) and undone when it ends.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import numpy as np

PRECISIONS = ("float32", "float64")
TREE_OPS = frozenset({"TreeEnsembleRegressor", "TreeEnsembleClassifier"})
ML_DOMAIN = "ai.onnx.ml"
DOUBLE_OPSET = 3
# The attributes ai.onnx.ml opset 3 also takes as a tensor (`<name>_as_tensor`), in double.
DOUBLE_ATTRIBUTES = (
    "nodes_values",
    "nodes_hitrates",
    "target_weights",
    "class_weights",
    "base_values",
)
# skl2onnx's converters that round tree values to float32 unless given op_version >= 3.
_FOREST_CLASSIFIERS = (
    "SklearnRandomForestClassifier",
    "SklearnExtraTreesClassifier",
    "SklearnHistGradientBoostingClassifier",
)


def has_trees(onx: Any) -> bool:
    """Whether the ModelProto `onx` has a tree ensemble operator."""
    return any(n.op_type in TREE_OPS and n.domain == ML_DOMAIN for n in onx.graph.node)


def _double_tree_node(original: Any, cast_scores: bool) -> Any:
    from onnx import TensorProto, numpy_helper

    @functools.wraps(original)
    def add_node(
        self: Any, op_type: str, inputs: Any, outputs: Any, *args: Any, **attrs: Any
    ) -> Any:
        domain = args[0] if args else attrs.get("op_domain", "")
        if op_type not in TREE_OPS or domain != ML_DOMAIN:
            return original(self, op_type, inputs, outputs, *args, **attrs)
        attrs.pop("op_domain", None)
        attrs.pop("op_version", None)
        for key in DOUBLE_ATTRIBUTES:
            if key in attrs:
                values = np.asarray(attrs.pop(key), dtype=np.float64).ravel()
                attrs[f"{key}_as_tensor"] = numpy_helper.from_array(values, name=key)
        outs = [outputs] if isinstance(outputs, str) else list(outputs)
        scores = outs[-1]
        if cast_scores:  # the op's scores are float; the converter declared them double
            outs[-1] = f"{scores}_float"
        original(self, op_type, inputs, outs, ML_DOMAIN, DOUBLE_OPSET, **attrs)
        if cast_scores:
            original(self, "Cast", [outs[-1]], [scores], to=TensorProto.DOUBLE)
        return None

    return add_node


@contextlib.contextmanager
def double_trees(*, cast_scores: bool) -> Iterator[None]:
    """While active, skl2onnx and onnxmltools write tree ensembles with double-precision
    values. `cast_scores`: the converter was given a double input and declared double scores
    (skl2onnx); without it (onnxmltools' Boosters take a float input) the scores stay float."""
    containers = []
    from skl2onnx.common._container import ModelComponentContainer as SklContainer

    containers.append(SklContainer)
    with contextlib.suppress(ImportError):  # onnxmltools: the `convert` extra
        from onnxmltools.convert.common._container import (
            ModelComponentContainer as MlContainer,
        )

        containers.append(MlContainer)
    from skl2onnx.common._registration import _converter_pool

    saved_nodes = {cls: cls.add_node for cls in containers}
    saved_fcts = {}
    try:
        for cls in containers:
            cls.add_node = _double_tree_node(saved_nodes[cls], cast_scores)
        for alias in _FOREST_CLASSIFIERS:
            registered = _converter_pool.get(alias)
            if registered is not None:
                saved_fcts[alias] = registered._fct
                registered._fct = functools.partial(registered._fct, op_version=DOUBLE_OPSET)
        yield
    finally:
        for cls, add_node in saved_nodes.items():
            cls.add_node = add_node
        for alias, fct in saved_fcts.items():
            _converter_pool[alias]._fct = fct


def double_input(onx: Any) -> None:
    """Declare the graph's float inputs double (a Booster graph, whose trees read them)."""
    from onnx import TensorProto

    for value in onx.graph.input:
        tensor = value.type.tensor_type
        if tensor.elem_type == TensorProto.FLOAT:
            tensor.elem_type = TensorProto.DOUBLE
