"""`{"instances": [...]}`: row records, TF Serving's and KServe v1's form.

Each instance is an object by input name (a column takes one value), or, for a one-input
model, that input's row. Errors name the instance they are about.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functions.predict.exceptions import InvalidInput
from functions.predict.forms.arrays import Input, dtype_range, is_column, json_type, to_array
from functions.predict.limits import MAX_STRING_CHARS, check_batch
from functions.predict.messages import quote


def to_feeds(
    value: Any, inputs: tuple[Input, ...], max_batch: int
) -> tuple[dict[str, np.ndarray], int]:
    if not isinstance(value, list):
        raise InvalidInput(f'"instances" must be a list of rows; got {json_type(value)}')
    if not value:
        raise InvalidInput('"instances" is an empty batch; send at least one row')
    check_batch('"instances"', len(value), max_batch)
    names = [i.name for i in inputs]
    known = set(names)
    values: dict[str, list[Any]] = {name: [] for name in names}
    for i, row in enumerate(value):
        if isinstance(row, dict):
            if len(row) != len(names) or not known.issuperset(row):
                unknown = sorted(set(row) - known)
                if unknown:
                    raise InvalidInput(
                        f"instances[{i}]: unknown field{'s' if len(unknown) > 1 else ''} "
                        f"{quote(unknown)}; the fields are {quote(names)}"
                    )
                missing = [n for n in names if n not in row]
                raise InvalidInput(
                    f"instances[{i}]: missing field{'s' if len(missing) > 1 else ''} "
                    f"{quote(missing)}"
                )
            for name in names:
                values[name].append(row[name])
        elif len(inputs) == 1 and not is_column(inputs[0].spec):
            values[names[0]].append(row)
        else:
            raise InvalidInput(
                f"instances[{i}] must be an object with the fields {quote(names)}; "
                f"got {json_type(row)}"
            )
    feeds = {}
    for inp in inputs:
        if is_column(inp.spec):
            feeds[inp.name] = _column(values[inp.name], inp)
        else:
            feeds[inp.name] = _rows(values[inp.name], inp, max_batch)
    return feeds, len(value)


def _column(values: list[Any], inp: Input) -> np.ndarray:
    """One value per row for a column input, each checked, so an error names its row."""
    spec = inp.spec
    field = quote(spec.name)
    if spec.dtype == "str":
        for i, v in enumerate(values):
            if type(v) is not str:
                raise InvalidInput(
                    f"instances[{i}]: field {field} expects a string; got {json_type(v)}"
                )
            if len(v) > MAX_STRING_CHARS:
                raise InvalidInput(
                    f"instances[{i}]: field {field} is a string of {len(v)} characters; "
                    f"the limit is {MAX_STRING_CHARS}"
                )
        arr = np.array(values, dtype=object)
    elif spec.dtype == "bool":
        for i, v in enumerate(values):
            if type(v) is not bool:
                raise InvalidInput(
                    f"instances[{i}]: field {field} expects a boolean; got {json_type(v)}"
                )
        arr = np.array(values, dtype=bool)
    else:
        limits = dtype_range(spec.dtype)
        if limits is None:
            raise InvalidInput(f"input {field} has dtype {spec.dtype}, which JSON cannot express")
        low, high = limits
        whole = np.dtype(spec.dtype).kind in "iu"
        for i, v in enumerate(values):
            if type(v) is bool or not isinstance(v, int | float):
                raise InvalidInput(
                    f"instances[{i}]: field {field} expects a number ({spec.dtype}); "
                    f"got {json_type(v)}"
                )
            if whole and isinstance(v, float) and not v.is_integer():
                raise InvalidInput(
                    f"instances[{i}]: field {field} expects a whole number ({spec.dtype}); "
                    "got a fraction"
                )
            if not low <= v <= high:  # Python compares int and float exactly
                raise InvalidInput(
                    f"instances[{i}]: field {field} has a value outside the range of "
                    f"{spec.dtype} [{low:.8g}, {high:.8g}]"
                )
        arr = np.array(values, dtype=np.dtype(spec.dtype))
    return arr.reshape(-1, 1) if len(spec.shape) == 2 else arr


def _rows(values: list[Any], inp: Input, max_batch: int) -> np.ndarray:
    """An input that is not a column, from its value in each instance."""
    try:
        return to_array(values, inp, max_batch)
    except InvalidInput as err:
        for i, v in enumerate(values):  # the slow path, on errors only: name the first bad row
            try:
                to_array([v], inp, max_batch)
            except InvalidInput:
                raise InvalidInput(f"instances[{i}]: {err.message}") from None
        raise
