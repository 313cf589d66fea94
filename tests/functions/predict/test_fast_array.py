"""jsonbody.numbers_only + to_array's direct conversion: the same arrays as the general
conversion, and the same refusals.

A body of plain numbers converts straight to a float input's dtype; whenever that array fails
the shape or finiteness rules, the general conversion runs and names the problem, so every
refusal is the same whichever way the body came in.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from functions.predict import forms
from functions.predict.exceptions import HTTPError
from functions.predict.forms.arrays import Input
from functions.predict.forms.jsonbody import numbers_only, parse_json
from model_store.manifest import TensorSpec

SPEC = TensorSpec("input", (None, 3), "float32")
SPECS = (SPEC,)


def both(body: bytes, max_batch: int = 10) -> tuple[object, object]:
    """(fast path's result or its refusal, general path's result or its refusal)."""

    def run(numbers: bool) -> object:
        try:
            feeds, batch = forms.to_feeds(parse_json(body), SPECS, max_batch, numbers=numbers)
        except HTTPError as err:
            return (type(err).__name__, err.message)
        return feeds["input"], batch

    return run(numbers_only(body)), run(False)


@pytest.mark.parametrize(
    "rows",
    [
        [[1, 2, 3]],
        [[0.1, -2.5e-7, 3e30], [4, 5, 6]],
        [[1.5, 2, 3]] * 10,
        [[16777217, 2, 3]],  # an int float32 cannot hold exactly: rounded the same way
    ],
)
def test_numbers_give_the_general_paths_array(rows) -> None:
    body = json.dumps({"inputs": rows}).encode()
    assert numbers_only(body)
    (fast, n_fast), (slow, n_slow) = both(body)
    assert n_fast == n_slow and fast.dtype == slow.dtype == np.float32
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [[1, 2, 3e39]]}',  # beyond float32
        b'{"inputs": [[1, 2]]}',  # wrong row
        b'{"inputs": [[1, 2, 3], [4, 5]]}',  # ragged
        b'{"inputs": [1, 2, 3]}',  # one row, unwrapped
        b'{"inputs": []}',
        b'{"inputs": [[[1, 2, 3]]]}',
        b'{"inputs": [[1, 2, 3]] }',
        json.dumps({"inputs": [[1, 2, 3]] * 11}).encode(),  # over the batch limit
    ],
)
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_everything_else_is_refused_as_before(body: bytes) -> None:
    fast, slow = both(body)
    if isinstance(slow, tuple) and isinstance(slow[0], str):
        assert fast == slow
    else:
        np.testing.assert_array_equal(fast[0], slow[0])


@pytest.mark.parametrize(
    "body",
    [
        b'{"inputs": [[true, 2, 3]]}',
        b'{"inputs": [[null, 2, 3]]}',
        b'{"inputs": [["1", 2, 3]]}',
        b'{"inputs": [[1, 2, 3]], "x": 1}',
        b'{"instances": [[1, 2, 3]]}',
        b'{"\\u0069nputs": [[1, 2, 3]]}',
        b'{"inputs": [[1, 2, 3]], "inputs": [[4, 5, 6]]}',
    ],
)
def test_anything_but_numbers_takes_the_general_path(body: bytes) -> None:
    assert not numbers_only(body)


def test_the_direct_conversion_is_for_float_inputs_only() -> None:
    assert Input.of(TensorSpec("x", (None, 3), "int64")).floats is None
    assert Input.of(SPEC).floats is not None
