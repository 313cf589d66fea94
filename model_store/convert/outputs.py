"""Names of a converted graph's inputs and outputs: what they hold, never an exporter's node id.

Exporters name a graph's outputs after the node that computes them (Keras: "23", torch.onnx:
"linear_1"); a client reads those names in every answer. A neural network's single output is
`probabilities` when its rows are a distribution, `logits` when the model is a classifier
(labels were given) and they are not, else `output`; several are `output_0`, `output_1`, …
The user's names win when given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from model_store.exceptions import ConversionError

PROBABILITY_SUM_ATOL = 1e-3


def is_distribution(values: np.ndarray) -> bool:
    """Rows of at least two non-negative numbers that sum to 1: class probabilities."""
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.dtype.kind != "f" or not arr.size:
        return False
    sums = arr.astype(np.float64).sum(axis=1)
    return bool(np.all(arr >= 0) and np.allclose(sums, 1.0, atol=PROBABILITY_SUM_ATOL))


def output_names(
    outputs: Sequence[np.ndarray],
    *,
    given: Sequence[str] | None,
    classifier: bool,
) -> list[str]:
    """The names of `outputs` (the original model's, on the sample), as described above."""
    if given:
        names = [str(n) for n in given]
        if len(names) != len(outputs):
            raise ConversionError(
                f"the model returns {len(outputs)} outputs but {len(names)} output names were "
                f"given ({names}); give one name per output"
            )
        if len(set(names)) != len(names):
            raise ConversionError(f"output names must be unique; got {names}")
        return names
    if len(outputs) == 1:
        if is_distribution(outputs[0]):
            return ["probabilities"]
        return ["logits" if classifier else "output"]
    return [f"output_{i}" for i in range(len(outputs))]


def rename(
    onx: Any, *, inputs: Mapping[str, str] | None = None, outputs: Mapping[str, str] | None = None
) -> None:
    """Rename graph inputs and outputs (and every use of them) in the ModelProto `onx`."""
    mapping = {k: v for k, v in {**(inputs or {}), **(outputs or {})}.items() if k != v}
    if not mapping:
        return
    graph = onx.graph
    taken = {v.name for v in [*graph.input, *graph.output, *graph.value_info]}
    taken |= {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output}
    clash = sorted(set(mapping.values()) & (taken - set(mapping)))
    if clash:
        raise ConversionError(f"cannot name the model's inputs or outputs {clash}: taken inside")
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = mapping.get(value.name, value.name)
    for node in graph.node:
        for k, name in enumerate(node.input):
            node.input[k] = mapping.get(name, name)
        for k, name in enumerate(node.output):
            node.output[k] = mapping.get(name, name)
