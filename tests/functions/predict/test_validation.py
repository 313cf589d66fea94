from __future__ import annotations

import numpy as np
import pytest

from functions.predict import validation as v
from functions.predict.exceptions import InvalidInput, InvalidJSON, PayloadTooLarge
from model_store.manifest import TensorSpec

ROW = TensorSpec("input", (None, 3), "float32")
INT = TensorSpec("ids", (None, 2), "int64")


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        (b"", InvalidJSON, "empty"),
        (b"{nope", InvalidJSON, "not valid JSON"),
        (b'{"inputs": [[NaN, 1, 2]]}', InvalidInput, "NaN or Infinity"),
        (b'{"inputs": [[Infinity, 1, 2]]}', InvalidInput, "NaN or Infinity"),
    ],
)
def test_parse_json_errors(raw: bytes, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        v.parse_json(raw)


@pytest.mark.parametrize(
    ("payload", "error", "match"),
    [
        ([[1, 2, 3]], InvalidInput, "must be a JSON object"),
        ({"rows": []}, InvalidInput, 'no "inputs" field'),
        ({"inputs": [[1, 2, 3]], "x": 1}, InvalidInput, "unknown fields"),
        ({"inputs": "abc"}, InvalidInput, "must be a list of rows; got a string"),
        ({"inputs": []}, InvalidInput, "empty batch"),
        ({"inputs": [[1, 2]]}, InvalidInput, r"rows of shape \[3\]"),
        ({"inputs": [1, 2, 3]}, InvalidInput, "wrap it in a list"),
        ({"inputs": [[1, 2, 3], [1, 2]]}, InvalidInput, "different lengths"),
        ({"inputs": [["a", "b", "c"]]}, InvalidInput, "got strings"),
        ({"inputs": [[1, None, 3]]}, InvalidInput, "null, objects or mixed"),
        ({"inputs": [[True, False, True]]}, InvalidInput, "booleans"),
        ({"inputs": [[1e39, 0, 0]]}, InvalidInput, "range of float32"),
        ({"inputs": [[1, 2, 3]] * 5}, PayloadTooLarge, "batch limit is 4"),
        ({"inputs": {"other": [[1, 2, 3]]}}, InvalidInput, "missing"),
    ],
)
def test_to_feeds_errors(payload: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        v.to_feeds(payload, (ROW,), max_batch=4)


def test_to_feeds_converts_to_the_model_dtype() -> None:
    feeds, batch = v.to_feeds({"inputs": [[1, 2, 3.5], [0, 0, 0]]}, (ROW,), max_batch=4)
    assert batch == 2 and feeds["input"].dtype == np.float32 and feeds["input"].shape == (2, 3)
    by_name, _ = v.to_feeds({"inputs": {"input": [[1, 2, 3]]}}, (ROW,), max_batch=4)
    assert by_name["input"].tolist() == [[1.0, 2.0, 3.0]]


def test_integer_inputs_and_multi_input_models() -> None:
    specs = (ROW, INT)
    feeds, batch = v.to_feeds({"inputs": {"input": [[1, 2, 3]], "ids": [[4, 5.0]]}}, specs, 8)
    assert feeds["ids"].dtype == np.int64 and batch == 1
    with pytest.raises(InvalidInput, match="whole numbers"):
        v.to_feeds({"inputs": {"input": [[1, 2, 3]], "ids": [[4, 5.5]]}}, specs, 8)
    with pytest.raises(InvalidInput, match="same number of rows"):
        v.to_feeds({"inputs": {"input": [[1, 2, 3]], "ids": [[4, 5], [6, 7]]}}, specs, 8)
    with pytest.raises(InvalidInput, match="has 2 inputs"):
        v.to_feeds({"inputs": [[1, 2, 3]]}, specs, 8)
