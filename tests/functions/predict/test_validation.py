from __future__ import annotations

import numpy as np
import pytest

from functions.predict import forms, limits, messages
from functions.predict.exceptions import InvalidInput, InvalidJSON, PayloadTooLarge
from functions.predict.forms import arrays, jsonbody
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
        jsonbody.parse_json(raw)


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
        forms.to_feeds(payload, (ROW,), max_batch=4)


def test_to_feeds_converts_to_the_model_dtype() -> None:
    feeds, batch = forms.to_feeds({"inputs": [[1, 2, 3.5], [0, 0, 0]]}, (ROW,), max_batch=4)
    assert batch == 2 and feeds["input"].dtype == np.float32 and feeds["input"].shape == (2, 3)
    by_name, _ = forms.to_feeds({"inputs": {"input": [[1, 2, 3]]}}, (ROW,), max_batch=4)
    assert by_name["input"].tolist() == [[1.0, 2.0, 3.0]]


def test_integer_inputs_and_multi_input_models() -> None:
    specs = (ROW, INT)
    feeds, batch = forms.to_feeds({"inputs": {"input": [[1, 2, 3]], "ids": [[4, 5.0]]}}, specs, 8)
    assert feeds["ids"].dtype == np.int64 and batch == 1
    with pytest.raises(InvalidInput, match="whole numbers"):
        forms.to_feeds({"inputs": {"input": [[1, 2, 3]], "ids": [[4, 5.5]]}}, specs, 8)
    with pytest.raises(InvalidInput, match="same number of rows"):
        forms.to_feeds({"inputs": {"input": [[1, 2, 3]], "ids": [[4, 5], [6, 7]]}}, specs, 8)
    with pytest.raises(InvalidInput, match="has 2 inputs"):
        forms.to_feeds({"inputs": [[1, 2, 3]]}, specs, 8)


# -- issue 11: client input quoted in messages is bounded; ranges are the dtype's -------------

BIG_KEY = "k" * (2 * 1024 * 1024)


@pytest.mark.parametrize(
    "payload",
    [
        {BIG_KEY: 1},  # no "inputs": the fields given are quoted
        {"inputs": [[0, 0, 0]], "k" * 70_000: 1},  # an unknown field
        {"inputs": {"input": [[0, 0, 0]], "k" * 70_000: [[0]]}},  # an unknown input name
    ],
    ids=["2 MiB key", "70 000-char field", "70 000-char input name"],
)
def test_messages_quote_the_clients_names_bounded(payload: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as caught:
        forms.to_feeds(payload, (ROW,), max_batch=4)
    message = caught.value.message
    assert len(message) < messages.QUOTE_CHARS + 120, message[:300]
    assert "more characters)" in message and "kkkk" in message


def test_clip_says_how_much_it_cut() -> None:
    assert messages.clip("short") == "short"
    assert messages.clip("x" * messages.QUOTE_CHARS) == "x" * messages.QUOTE_CHARS
    cut = messages.clip("x" * 70_000)
    assert len(cut) == messages.QUOTE_CHARS
    kept = cut.index("…")
    assert cut.endswith(f"… ({70_000 - kept:,} more characters)".replace(",", " "))
    assert (
        messages.quote("k" * 500, 50).startswith("'kkk") and len(messages.quote("k" * 500)) <= 200
    )


@pytest.mark.parametrize(
    ("dtype", "inside", "outside"),
    [
        ("float32", 3.4028234663852886e38, 3.4028236e38),
        ("float16", 65504.0, 65505.0),
        ("int32", 2147483647, 2147483648),
        ("int64", 9223372036854775807, 9223372036854775808),
        # 2**63 written as a float compares equal to int64's top as a float: it used to pass
        # the range check and wrap around to -2**63 in the cast.
        ("int64", -9223372036854775808, 9.223372036854775807e18),
        ("uint8", 255, 256),
    ],
)
def test_dtype_range_is_what_validation_accepts(dtype: str, inside: float, outside: float) -> None:
    low, high = arrays.dtype_range(dtype) or (None, None)
    assert low is not None and high is not None and low <= inside <= high
    spec = TensorSpec("x", (None, 1), dtype)
    assert arrays.to_array([[inside]], spec, 4).tolist() == [[inside]]
    with pytest.raises(InvalidInput, match=f"range of {dtype}"):
        arrays.to_array([[outside]], spec, 4)
    assert arrays.dtype_range("str") is None and arrays.dtype_range("bool") is None


# -- issue 16: row records ({"instances": [...]}) and string columns ---------------------------

AGE = TensorSpec("age", (None, 1), "int64")
INCOME = TensorSpec("income", (None, 1), "float32")
PLAN = TensorSpec("plan", (None, 1), "str")
TABULAR = (AGE, INCOME, PLAN)


def test_instances_by_field_become_one_column_per_input() -> None:
    rows = [
        {"age": 41, "income": 52000.5, "plan": "pro"},
        {"plan": "free", "age": 23.0, "income": 0},
    ]
    feeds, batch = forms.to_feeds({"instances": rows}, TABULAR, max_batch=4)
    assert batch == 2
    assert feeds["age"].dtype == np.int64 and feeds["age"].tolist() == [[41], [23]]
    assert feeds["income"].dtype == np.float32 and feeds["income"].shape == (2, 1)
    assert feeds["plan"].dtype == object and feeds["plan"].tolist() == [["pro"], ["free"]]
    # The same rows as columns by name give the same feeds.
    by_name, _ = forms.to_feeds(
        {"inputs": {"age": [[41], [23]], "income": [[52000.5], [0]], "plan": [["pro"], ["free"]]}},
        TABULAR,
        max_batch=4,
    )
    for name in feeds:
        assert by_name[name].tolist() == feeds[name].tolist()


GOOD = {"age": 41, "income": 1.5, "plan": "pro"}


@pytest.mark.parametrize(
    ("instances", "error", "match"),
    [
        ({"age": 1}, InvalidInput, '"instances" must be a list of rows; got an object'),
        ([], InvalidInput, "empty batch"),
        ([GOOD] * 5, PayloadTooLarge, "batch limit is 4"),
        ([GOOD, {**GOOD, "zip": "x"}], InvalidInput, r"instances\[1\]: unknown field \['zip'\]"),
        ([{"age": 1, "plan": "x"}], InvalidInput, r"instances\[0\]: missing field \['income'\]"),
        ([GOOD, [1, 2, 3]], InvalidInput, r"instances\[1\] must be an object with the fields"),
        (
            [GOOD, {**GOOD, "plan": 3}],
            InvalidInput,
            r"instances\[1\]: field 'plan' expects a string",
        ),
        (
            [{**GOOD, "age": "41"}],
            InvalidInput,
            r"field 'age' expects a number \(int64\); got a str",
        ),
        ([{**GOOD, "age": True}], InvalidInput, "got a boolean"),
        ([{**GOOD, "age": None}], InvalidInput, "got null"),
        ([{**GOOD, "age": 4.5}], InvalidInput, "whole number"),
        ([GOOD, GOOD, {**GOOD, "age": 2**63}], InvalidInput, r"instances\[2\].*range of int64"),
        ([{**GOOD, "income": 1e39}], InvalidInput, "range of float32"),
        ([{**GOOD, "income": [1.5]}], InvalidInput, "expects a number"),
        (
            [{**GOOD, "plan": "p" * (limits.MAX_STRING_CHARS + 1)}],
            InvalidInput,
            f"string of {limits.MAX_STRING_CHARS + 1} characters; the limit is",
        ),
    ],
)
def test_instances_errors_name_the_row_and_field(
    instances: object, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        forms.to_feeds({"instances": instances}, TABULAR, max_batch=4)


def test_instances_for_a_one_input_model_are_rows_or_records() -> None:
    feeds, batch = forms.to_feeds({"instances": [[1, 2, 3], {"input": [4, 5, 6]}]}, (ROW,), 4)
    assert batch == 2 and feeds["input"].tolist() == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(InvalidInput, match=r"instances\[1\]: input 'input'.*shape \[3\]"):
        forms.to_feeds({"instances": [[1, 2, 3], [4, 5]]}, (ROW,), 4)


def test_one_form_at_a_time_and_unknown_fields() -> None:
    with pytest.raises(InvalidInput, match='either "inputs" or "instances", not both'):
        forms.to_feeds({"inputs": [[1, 2, 3]], "instances": [[1, 2, 3]]}, (ROW,), 4)
    with pytest.raises(InvalidInput, match='takes "inputs" or "instances"'):
        forms.to_feeds({"instances": [[1, 2, 3]], "rows": 1}, (ROW,), 4)


def test_string_inputs_are_strings_only_and_bounded() -> None:
    spec = TensorSpec("plan", (None, 1), "str")
    assert arrays.to_array([["a"], ["bb"]], spec, 4).dtype == object
    with pytest.raises(InvalidInput, match="mixed with other types"):
        arrays.to_array([["a"], [1]], spec, 4)  # numpy alone would make "1" of the number
    with pytest.raises(InvalidInput, match="the limit is 1024"):
        arrays.to_array([["x" * 1025]], spec, 4)
    assert arrays.to_array([["é" * 1024]], spec, 4).shape == (1, 1)  # characters, not bytes


def test_output_check_finds_non_finite_rows_among_huge_finite_values() -> None:
    from functions.predict.exceptions import NonFiniteOutput
    from functions.predict.service import check_output as _check_finite

    huge = np.full((4, 3), 3e30, dtype=np.float32)  # x·x overflows; every value is finite
    _check_finite("probabilities", huge)
    huge[1, 2] = np.nan
    huge[3, 0] = np.inf
    with pytest.raises(NonFiniteOutput, match=r"for 2 of 4 rows \(rows 1, 3"):
        _check_finite("probabilities", huge)
