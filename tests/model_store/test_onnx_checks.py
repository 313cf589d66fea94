from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from model_store.exceptions import UnsafeModel
from model_store.onnx_checks import check_onnx_safe, opset_of


def _model(domain: str = "", external: bool = False) -> bytes:
    weight = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    if external:
        weight.ClearField("float_data")
        weight.data_location = TensorProto.EXTERNAL
        entry = weight.external_data.add()
        entry.key, entry.value = "location", "../../../../etc/passwd"
    node = helper.make_node("Add", ["x", "w"], ["y"], domain=domain)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [weight],
    )
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def test_standard_model_is_accepted() -> None:
    proto = check_onnx_safe(_model())
    assert opset_of(proto) == {"ai.onnx": 17}


def test_external_data_is_refused() -> None:
    with pytest.raises(UnsafeModel, match="external file"):
        check_onnx_safe(_model(external=True))


def test_custom_operator_domain_is_refused() -> None:
    with pytest.raises(UnsafeModel, match="custom operator domains"):
        check_onnx_safe(_model(domain="com.evil.native"))


def test_custom_domain_in_a_subgraph_is_refused() -> None:
    inner = onnx.load_model_from_string(_model(domain="com.evil.native")).graph
    outer_node = helper.make_node("If", ["c"], ["y"], then_branch=inner, else_branch=inner)
    graph = helper.make_graph(
        [outer_node],
        "outer",
        [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    with pytest.raises(UnsafeModel, match="com.evil.native"):
        check_onnx_safe(data)


def test_garbage_is_refused() -> None:
    with pytest.raises(UnsafeModel, match="not a valid ONNX file"):
        check_onnx_safe(b"\x00not onnx at all\xff" * 10)
