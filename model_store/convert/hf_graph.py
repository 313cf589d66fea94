"""An exported transformer graph made for onnxruntime's CPU kernels: fused (float) or int8.

`fused`: onnxscript's fusions for onnxruntime (`ort_fusions.optimize_for_ort`, the rewriter
that accompanies torch.onnx's exporter) turn each layer's attention into onnxruntime's
`com.microsoft` Attention (one GEMM for Q, K and V, the softmax and the mask inside) and the
bias Add + Gelu into BiasGelu. The exporter writes attention as scaled_dot_product_attention
decomposed (MatMul, Softmax, an IsNaN/Where guard for fully masked rows, the scale split over
Q and K), which onnxruntime's own transformers optimizer (model_type "bert") does not
recognise: it fuses the LayerNorms and Gelus only. The rewriter also makes each residual Add +
LayerNormalization a SkipLayerNormalization; those are split back (`split_skip_norms`), as its
CPU kernel is the slower (model_store/loader.py keeps onnxruntime from fusing them again). On
the MiniLM-sized bench model, one thread, batch 1 (bench/text.py, against transformers'
pipeline in the same session): 0.66x -> 0.64x at 32 tokens, 0.99x -> 0.89x at 128 with every
fusion; the split then takes the model's own run from 6.5 to 5.6 ms at 32 tokens and 23.4 to
19.9 ms at 128 (onnxruntime's profiler). The GEMMs, which no graph rewrite shortens, are most
of what is left. The parity check runs on the graph as stored. A graph the fusions do not
apply to, or that onnxruntime then refuses, is kept as exported, and the manifest says so.

`int8`: onnxruntime's dynamic quantization (int8 weights, activations quantized at run time),
of the unfused graph: quantize_dynamic makes MatMulInteger of every MatMul but leaves the fused
Attention's Q, K and V projection in float (slower: 0.53x of float against 0.41x unfused, batch
1 at 32 tokens).
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from model_store.convert.failure import short
from model_store.convert.torch import quiet
from model_store.exceptions import ConversionError

FUSER = "onnxscript ort_fusions"
ORT_DOMAIN = "com.microsoft"  # onnxruntime's own operators
SKIP_NORM = "SkipLayerNormalization"


def fused(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """The graph with onnxruntime's fused operators, and what was fused: {"tool", "fused":
    {operator: count}} (onnxruntime's operators in the graph; or {"tool", "skipped": why},
    the graph as it was)."""
    try:
        import onnx
        import onnx_ir as ir
        import onnxruntime as ort
        from onnxscript.rewriter.ort_fusions import optimize_for_ort

        with quiet():
            model, _ = optimize_for_ort(ir.from_proto(onnx.load_from_string(data)))
        proto, split = split_skip_norms(ir.to_proto(model))
        done = Counter(n.op_type for n in proto.graph.node if n.domain == ORT_DOMAIN)
        made = proto.SerializeToString()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        ort.InferenceSession(made, options, providers=["CPUExecutionProvider"])  # it loads
    except Exception as exc:  # onnxscript's rewriter and onnxruntime raise many kinds of errors
        return data, {"tool": FUSER, "skipped": f"{type(exc).__name__}: {short(str(exc))}"}
    if not done:
        why = "only residual LayerNorms matched, served unfused" if split else "no pattern matched"
        return data, {"tool": FUSER, "skipped": why}
    out: dict[str, Any] = {"tool": FUSER, "fused": dict(sorted(done.items()))}
    if split:
        out["split"] = {SKIP_NORM: split}
    return made, out


def split_skip_norms(model: Any) -> tuple[Any, int]:
    """`model` (an onnx ModelProto, changed in place) with every SkipLayerNormalization whose
    mean and inverse deviation outputs are unused written as what it fuses: input (+ bias)
    + skip, then LayerNormalization (ONNX opset 17; the rewriter makes one only from an
    existing LayerNormalization). Returns the model and how many were split."""
    from onnx import helper

    graph = model.graph
    if next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0) < 17:
        return model, 0  # no LayerNormalization before opset 17
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    taken = used | {name for node in graph.node for name in node.output}
    nodes, split = [], 0
    for node in graph.node:
        outputs = list(node.output) + [""] * (4 - len(node.output))
        if (
            node.op_type != SKIP_NORM
            or node.domain != ORT_DOMAIN
            or any(o in used for o in outputs[1:3] if o)
        ):
            nodes.append(node)
            continue
        x, skip, gamma, beta, bias = (list(node.input) + [""] * 5)[:5]
        epsilon = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-12)
        total = outputs[3] if outputs[3] else _fresh(f"{outputs[0]}_sum", taken)
        if bias:
            biased = _fresh(f"{outputs[0]}_biased", taken)
            nodes.append(helper.make_node("Add", [x, bias], [biased]))
            x = biased
        nodes.append(helper.make_node("Add", [x, skip], [total]))
        norm_inputs = [total, gamma] + ([beta] if beta else [])
        nodes.append(
            helper.make_node(
                "LayerNormalization", norm_inputs, [outputs[0]], axis=-1, epsilon=epsilon
            )
        )
        split += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return model, split


def _fresh(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def int8(data: bytes) -> bytes:
    """onnxruntime's dynamic quantization: int8 weights, activations quantized at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="slipway-int8-") as tmp:
        source, target = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        source.write_bytes(data)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantizer advises pre-processing on the root logger
        try:
            with quiet():
                quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        except Exception as exc:  # onnxruntime's quantizer raises many kinds of errors
            raise ConversionError(
                f"onnxruntime could not quantize the model to int8: {type(exc).__name__}: "
                f"{short(str(exc))}; register it without --quantize"
            ) from exc
        finally:
            root.setLevel(level)
        return target.read_bytes()
