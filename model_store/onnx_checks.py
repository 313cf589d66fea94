"""Safety and schema checks on ONNX bytes before they enter the store (needs `onnx`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from model_store.exceptions import UnsafeModel

# Operator domains onnxruntime implements itself. Anything else needs a custom-op library,
# that is native code we would have to load: refused.
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft"})


def _graphs(graph: Any) -> Iterator[Any]:
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.g is not None and attr.HasField("g"):
                yield from _graphs(attr.g)
            for sub in attr.graphs:
                yield from _graphs(sub)


def check_onnx_safe(data: bytes) -> Any:
    """Parse `data` and refuse external data and custom operator domains; return the proto."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError, TypeError) as exc:
        raise UnsafeModel(f"not a valid ONNX file: {exc}") from exc
    if not model.graph.node and not model.graph.output:
        raise UnsafeModel("not a valid ONNX file: the graph is empty")
    local_functions = {f.domain for f in model.functions}
    allowed = STANDARD_DOMAINS | local_functions
    for graph in _graphs(model.graph):
        for tensor in [*graph.initializer, *(s.values for s in graph.sparse_initializer)]:
            if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
                raise UnsafeModel(
                    f"initializer {tensor.name!r} keeps its data in an external file; external "
                    "data can point anywhere on disk. Save the model with all tensors inside "
                    "(onnx.save_model(..., save_as_external_data=False))."
                )
        for node in graph.node:
            if node.domain not in allowed:
                raise UnsafeModel(
                    f"node {node.name or node.op_type!r} uses operator domain {node.domain!r}; "
                    "custom operator domains need native code and are refused. "
                    f"Allowed: {sorted(d or 'ai.onnx' for d in STANDARD_DOMAINS)}."
                )
    for func in model.functions:
        for node in func.node:
            if node.domain not in allowed:
                raise UnsafeModel(
                    f"function {func.name!r} uses operator domain {node.domain!r}; refused"
                )
    return model


def opset_of(model: Any) -> dict[str, int]:
    return {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import}
