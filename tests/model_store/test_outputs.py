"""Output names for what they hold (convert/outputs.py), in process and without a framework."""

from __future__ import annotations

import numpy as np
import pytest

from model_store.convert.outputs import is_distribution, output_names, rename
from model_store.exceptions import ConversionError

PROBA = np.array([[0.2, 0.8], [0.5, 0.5]], dtype=np.float32)
SCORES = np.array([[2.0, -1.0], [0.3, 0.1]], dtype=np.float32)


def test_a_distribution_is_probabilities_else_logits_for_a_classifier_else_output() -> None:
    assert output_names([PROBA], given=None, classifier=False) == ["probabilities"]
    assert output_names([PROBA], given=None, classifier=True) == ["probabilities"]
    assert output_names([SCORES], given=None, classifier=True) == ["logits"]
    assert output_names([SCORES], given=None, classifier=False) == ["output"]
    assert output_names([SCORES, PROBA], given=None, classifier=True) == ["output_0", "output_1"]


def test_what_is_not_a_distribution() -> None:
    assert not is_distribution(np.array([[0.5], [1.0]]))  # one column: a score
    assert not is_distribution(np.array([[1.2, -0.2]]))  # sums to 1 with a negative
    assert not is_distribution(np.array([[0.2, 0.3]]))  # does not sum to 1
    assert not is_distribution(np.array([[0, 1]]))  # integers
    assert is_distribution(np.array([[0.1, 0.2, 0.7]]))


def test_the_users_names_win_and_must_fit() -> None:
    assert output_names([PROBA], given=["churn"], classifier=True) == ["churn"]
    with pytest.raises(ConversionError, match="returns 1 outputs but 2 output names"):
        output_names([PROBA], given=["a", "b"], classifier=False)
    with pytest.raises(ConversionError, match="must be unique"):
        output_names([PROBA, SCORES], given=["a", "a"], classifier=False)


def _graph() -> object:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("keras_tensor", TensorProto.FLOAT, ["batch", 2])
    y = helper.make_tensor_value_info("23", TensorProto.FLOAT, ["batch", 2])
    nodes = [
        helper.make_node("Relu", ["keras_tensor"], ["7"]),
        helper.make_node("Softmax", ["7"], ["23"]),
    ]
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y]))


def test_rename_changes_the_graph_and_every_use() -> None:
    import onnx
    import onnxruntime as ort

    model = _graph()
    rename(model, inputs={"keras_tensor": "input"}, outputs={"23": "probabilities"})
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    (out,) = session.run(None, {"input": np.array([[1.0, -1.0]], dtype=np.float32)})
    assert is_distribution(out)


def test_rename_refuses_a_name_taken_inside() -> None:
    with pytest.raises(ConversionError, match=r"\['7'\]: taken inside"):
        rename(_graph(), outputs={"23": "7"})
