"""The float32 floor of a BERT-style encoder on this core: its multiply-adds at onnxruntime's own
matrix-product rate, measured here (issue 25's target is a ratio to the transformers pipeline;
this says how low any float32 path on one thread could go).

A layer of hidden h and intermediate i, at T tokens, does 2·T·(4·h² + 2·h·i) FLOPs in its
projections (Q, K, V, output; up and down) and 2·2·T²·h in attention's two products; the
embeddings and pooling do next to none. The rate is onnxruntime's MatMul on the model's own
largest product (T×h by h×i, weights constant, one thread), timed on its best of several runs:
a ceiling the whole model can at most reach.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np


def flops(layers: int, hidden: int, intermediate: int, tokens: int, batch: int = 1) -> float:
    """FLOPs of the encoder's matrix products for `batch` texts of `tokens` tokens."""
    projections = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 2 * 2 * tokens * tokens * hidden
    return float(batch * layers * (projections + attention))


def gemm_rate(
    tokens: int, hidden: int, intermediate: int, *, runs: int = 7, calls: int = 50
) -> float:
    """onnxruntime's float32 MatMul rate (FLOP/s) on one thread, (tokens×hidden)·(hidden×intermediate)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(
        rng.standard_normal((hidden, intermediate)).astype(np.float32), "w"
    )
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [tokens, hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [tokens, intermediate])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feeds = {"x": rng.standard_normal((tokens, hidden)).astype(np.float32)}
    for _ in range(calls):
        session.run(None, feeds)
    per_call = []  # seconds a call, one figure a run; the quickest run is the rate
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            session.run(None, feeds)
        per_call.append((time.perf_counter() - start) / calls)
    return 2.0 * tokens * hidden * intermediate / min(per_call)


def floor(config: dict[str, Any], tokens_list: tuple[int, ...]) -> dict[str, Any]:
    """Per token count, from a transformers config.json: FLOPs at batch 1, the rate measured at
    that size (median of three), the floor in ms."""
    hidden, intermediate = int(config["hidden_size"]), int(config["intermediate_size"])
    out: dict[str, Any] = {}
    for tokens in tokens_list:
        total = flops(int(config["num_hidden_layers"]), hidden, intermediate, tokens)
        rates = [gemm_rate(tokens, hidden, intermediate) for _ in range(3)]
        rate = statistics.median(rates)
        out[str(tokens)] = {
            "gflop": round(total / 1e9, 3),
            "gemm_gflops": round(rate / 1e9, 1),
            "floor_ms": round(total / rate * 1000, 2),
        }
    return out
