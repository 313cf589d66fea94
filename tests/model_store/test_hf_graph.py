"""model_store.convert.hf_graph.split_skip_norms and the served session's disabled fusion:
SkipLayerNormalization written back as Add + LayerNormalization, with the fused kernel's
results, and onnxruntime kept from fusing it again when the model is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from model_store.convert.hf_graph import ORT_DOMAIN, SKIP_NORM, split_skip_norms
from model_store.loader import DISABLED_OPTIMIZERS

HIDDEN = 8
RNG = np.random.default_rng(7)


def _tensor(name: str) -> onnx.TensorProto:
    return numpy_helper.from_array(RNG.standard_normal(HIDDEN).astype(np.float32), name)


def _io(name: str) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [2, 3, HIDDEN])


def _skip_model(*, bias: bool, use_mean: bool = False, opset: int = 17) -> onnx.ModelProto:
    """x, skip -> SkipLayerNormalization (its residual sum used too) -> y = out + sum."""
    inputs = ["x", "skip", "gamma", "beta"] + (["bias"] if bias else [])
    outputs = ["out", "mean" if use_mean else "", "", "sum"]
    nodes = [
        helper.make_node(SKIP_NORM, inputs, outputs, domain=ORT_DOMAIN, epsilon=1e-5),
        helper.make_node("Add", ["out", "sum"], ["y"]),
    ]
    graph_outputs = [_io("y")]
    if use_mean:
        graph_outputs.append(helper.make_tensor_value_info("mean", TensorProto.FLOAT, None))
    graph = helper.make_graph(
        nodes,
        "skip",
        [_io("x"), _io("skip")],
        graph_outputs,
        initializer=[_tensor(n) for n in ("gamma", "beta", "bias")[: 3 if bias else 2]],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(ORT_DOMAIN, 1)]
    )


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray], **kw: Any) -> np.ndarray:
    session = ort.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"], **kw
    )
    return np.asarray(session.run(["y"], feeds)[0])


@pytest.mark.parametrize("bias", [True, False])
def test_split_gives_the_fused_kernels_results(bias: bool) -> None:
    feeds = {k: RNG.standard_normal((2, 3, HIDDEN)).astype(np.float32) for k in ("x", "skip")}
    fused = _skip_model(bias=bias)
    expected = _run(fused, feeds)
    copy = onnx.ModelProto()
    copy.CopyFrom(fused)
    split, count = split_skip_norms(copy)
    assert count == 1
    ops = [n.op_type for n in split.graph.node]
    assert SKIP_NORM not in ops and "LayerNormalization" in ops
    assert ops.count("Add") == (3 if bias else 2)  # x + bias, + skip, and the graph's own Add
    onnx.checker.check_model(split)
    got = _run(split, feeds, disabled_optimizers=list(DISABLED_OPTIMIZERS))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_a_node_whose_statistics_are_used_stays_fused() -> None:
    model, count = split_skip_norms(_skip_model(bias=True, use_mean=True))
    assert count == 0
    assert [n.op_type for n in model.graph.node][0] == SKIP_NORM


def test_nothing_is_split_below_opset_17() -> None:
    model, count = split_skip_norms(_skip_model(bias=True, opset=16))
    assert count == 0
    assert [n.op_type for n in model.graph.node][0] == SKIP_NORM


def _add_norm_model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Add", ["x", "skip"], ["sum"]),
        helper.make_node("LayerNormalization", ["sum", "gamma", "beta"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "norm", [_io("x"), _io("skip")], [_io("y")], [_tensor("gamma"), _tensor("beta")]
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _optimized_ops(tmp_path: Path, disabled: list[str]) -> list[str]:
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / f"optimized-{len(disabled)}.onnx")
    ort.InferenceSession(
        _add_norm_model().SerializeToString(),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=disabled,
    )
    return [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]


def test_the_disabled_fusion_is_onnxruntimes_name_for_it(tmp_path: Path) -> None:
    # onnxruntime ignores names it does not know: both sides are checked.
    assert SKIP_NORM in _optimized_ops(tmp_path, [])
    assert _optimized_ops(tmp_path, list(DISABLED_OPTIMIZERS)) == ["Add", "LayerNormalization"]


def test_the_served_session_is_built_without_it(
    example_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model_store import loader
    from model_store.resolve import fetch

    seen: list[Any] = []
    real = ort.InferenceSession

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kw: Any) -> None:
            seen.append(kw.get("disabled_optimizers"))
            super().__init__(*args, **kw)

    monkeypatch.setattr(ort, "InferenceSession", Recording)
    manifest, data = fetch(None, store_root=str(example_store))
    loader.load_model(data, manifest)
    assert seen == [list(DISABLED_OPTIMIZERS)]
