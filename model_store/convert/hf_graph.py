"""An exported transformer graph made for onnxruntime's CPU kernels: fused (float) or int8.

`fused`: onnxscript's fusions for onnxruntime (`ort_fusions.optimize_for_ort`, the rewriter
that accompanies torch.onnx's exporter) turn each layer's attention into onnxruntime's
`com.microsoft` Attention (one GEMM for Q, K and V, the softmax and the mask inside), the
residual Add + LayerNormalization into SkipLayerNormalization and the bias Add + Gelu into
BiasGelu. The exporter writes attention as scaled_dot_product_attention decomposed (MatMul,
Softmax, an IsNaN/Where guard for fully masked rows, the scale split over Q and K), which
onnxruntime's own transformers optimizer (model_type "bert") does not recognise: it fuses the
LayerNorms and Gelus only. On the MiniLM-sized bench model, one thread, batch 1 (bench/text.py,
against transformers' pipeline in the same session): 0.66x -> 0.64x at 32 tokens, 0.99x ->
0.89x at 128; the GEMMs, which no graph rewrite shortens, are most of what is left. The
parity check runs on the fused graph. A graph the fusions do not apply to, or that onnxruntime then refuses, is kept as
exported, and the manifest says so.

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
        done = Counter(n.op_type for n in model.graph if n.domain == ORT_DOMAIN)
        made = ir.to_proto(model).SerializeToString()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        ort.InferenceSession(made, options, providers=["CPUExecutionProvider"])  # it loads
    except Exception as exc:  # onnxscript's rewriter and onnxruntime raise many kinds of errors
        return data, {"tool": FUSER, "skipped": f"{type(exc).__name__}: {short(str(exc))}"}
    if not done:
        return data, {"tool": FUSER, "skipped": "no pattern of the graph matched"}
    return made, {"tool": FUSER, "fused": dict(sorted(done.items()))}


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
