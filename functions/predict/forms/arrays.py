"""One model input from a JSON value: the conversion rules every body form shares.

The request forms (`inputs`, `instances`, the Open Inference Protocol's JSON tensors) find a
value for each input; this module turns it into an array of the input's dtype and shape or
refuses it, naming the problem in the client's terms. `Input` holds what an input's checks
need, built once per model at init.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from functions.predict.exceptions import InvalidInput
from functions.predict.limits import MAX_STRING_CHARS, check_batch
from functions.predict.messages import quote
from model_store.manifest import TensorSpec

_MAX, _MIN, _SUM = np.maximum.reduce, np.minimum.reduce, np.add.reduce
FLOATS = {name: np.dtype(name) for name in ("float16", "float32", "float64")}
# x·x of a flattened array: finite exactly when every value is finite and |x| < ~1e19
# (float32); a larger value only takes the slower exact check. Cheaper than a float64 sum
# (no cast buffer), measured in bench/hotpath.py.
VDOT = np.vdot


@dataclass(frozen=True)
class Input:
    """A model input's rules: its spec, how messages name it, the float dtype a body of plain
    numbers converts to directly, and its row shape when every dimension after the batch is
    fixed (one tuple compare instead of a loop)."""

    spec: TensorSpec
    name: str
    where: str
    floats: np.dtype[Any] | None
    tail: tuple[int, ...] | None

    @classmethod
    def of(cls, spec: TensorSpec) -> Input:
        tail = spec.shape[1:]
        fixed = None
        if spec.shape and all(isinstance(d, int) for d in tail):  # () takes the rank check
            fixed = tuple(d for d in tail if isinstance(d, int))
        return cls(spec, spec.name, f"input {spec.name!r}", FLOATS.get(spec.dtype), fixed)


@lru_cache(maxsize=64)  # on every request: np.finfo and np.iinfo are microseconds each
def dtype_range(dtype: str) -> tuple[int | float, int | float] | None:
    """The (min, max) a JSON number may have for an input of `dtype`, both inclusive, or None.

    The one source of the ranges: `to_array` refuses values outside them and the OpenAPI
    document states them (openapi.py).
    """
    if dtype in ("str", "bool"):
        return None
    try:
        target = np.dtype(dtype)
    except TypeError:
        return None
    if target.kind == "f":
        top = float(np.finfo(target).max)
        return -top, top
    if target.kind in "iu":
        info = np.iinfo(target)
        return int(info.min), int(info.max)
    return None


def to_array(
    value: Any, spec: TensorSpec | Input, max_batch: int, *, numbers: bool = False
) -> np.ndarray:
    """One input as an array of the spec's dtype and shape, or an error naming the problem.

    `numbers`: the body holds only JSON numbers and lists (jsonbody.numbers_only), so a float
    input converts straight to its dtype, without the type-discovery pass and float64 copy.
    An array that conversion gives is accepted by the same shape and finiteness rules; when
    it fails them, the general conversion below runs and names the problem.
    """
    inp = spec if type(spec) is Input else Input.of(spec)  # type: ignore[arg-type]
    if type(value) is not list:
        raise InvalidInput(f"{inp.where} must be a list of rows; got {json_type(value)}")
    if not value:
        raise InvalidInput(f"{inp.where} is an empty batch; send at least one row")
    if len(value) > max_batch:
        check_batch(inp.where, len(value), max_batch)
    target = inp.floats if numbers else None
    if target is not None:
        try:
            # A value beyond float32 becomes inf (refused below) with numpy's RuntimeWarning
            # "overflow encountered in cast", shown once per process: cheaper than np.errstate.
            arr = np.asarray(value, dtype=target)
        except (ValueError, RuntimeWarning):  # ragged rows; an overflow, if warnings are errors
            pass
        else:
            tail = inp.tail
            if arr.shape[1:] == tail if tail is not None else _fits(arr, inp.spec):
                # finite(), inline (every request): x·x, or a float64 sum for float16's range.
                if arr.dtype.itemsize >= 4:
                    if math.isfinite(VDOT(arr, arr)):
                        return arr
                elif math.isfinite(_SUM(arr, axis=None, dtype=np.float64)):
                    return arr
    return _convert(value, inp)


def _fits(arr: np.ndarray, spec: TensorSpec) -> bool:
    if arr.ndim != len(spec.shape):
        return False
    for want, got in zip(spec.shape[1:], arr.shape[1:], strict=True):
        if isinstance(want, int) and want != got:
            return False
    return True


def finite(arr: np.ndarray) -> bool:
    """Whether every value of a float array is finite (x·x, or a float64 sum for float16)."""
    if arr.dtype.itemsize >= 4:
        return math.isfinite(VDOT(arr, arr))
    return math.isfinite(_SUM(arr, axis=None, dtype=np.float64))  # float16: x·x passes 65504


def _convert(value: list[Any], inp: Input) -> np.ndarray:
    """The general conversion: numpy discovers the values' types, each rule names its refusal."""
    spec, where = inp.spec, inp.where
    try:
        arr = np.asarray(value)
    except ValueError:
        raise InvalidInput(
            f"{where}: rows have different lengths or nesting; every row needs shape "
            f"{row_shape(spec)}"
        ) from None
    kind = arr.dtype.kind
    if spec.dtype == "str":
        if kind != "U":
            raise InvalidInput(f"{where} expects strings; got {_kind_name(kind)}")
        arr = _strings(value, arr, where)
    elif kind in "US":
        raise InvalidInput(f"{where} expects numbers ({spec.dtype}); got strings")
    elif kind == "O":
        raise InvalidInput(
            f"{where} expects numbers ({spec.dtype}); got null, objects or mixed types, or rows of "
            "different lengths"
        )
    elif kind == "b" and spec.dtype != "bool":
        raise InvalidInput(f"{where} expects numbers ({spec.dtype}); got booleans")
    else:
        arr = cast(arr, spec.dtype, where)
    check_shape(arr, spec, where)
    return arr


def _strings(value: Any, arr: np.ndarray, where: str) -> np.ndarray:
    # numpy makes ["a", 1] into two strings: only strings may come in.
    cells = np.asarray(value, dtype=object)
    if not all(type(v) is str for v in cells.flat):
        raise InvalidInput(f"{where} expects strings; got strings mixed with other types")
    longest = arr.dtype.itemsize // np.dtype("U1").itemsize  # '<U7': 7 characters at most
    if longest > MAX_STRING_CHARS:
        raise InvalidInput(
            f"{where} has a string of {longest} characters; the limit is {MAX_STRING_CHARS}"
        )
    return cells


def cast(arr: np.ndarray, dtype: str, where: str) -> np.ndarray:
    """`arr` as `dtype`, refusing non-finite numbers, fractions for integers and values out of range."""
    target = _dtype(dtype)
    if target.kind == "f":
        # Two reductions, no temporary array: NaN and ±inf propagate into the max or the min.
        # (The ufuncs' own reduce: ndarray.max's Python wrapper costs as much at batch 1.)
        if arr.size:
            high, low = float(_MAX(arr, axis=None)), float(_MIN(arr, axis=None))
            if not (math.isfinite(high) and math.isfinite(low)):
                raise InvalidInput(f"{where} contains a non-finite number; inputs must be finite")
            limits = dtype_range(dtype)
            if limits is not None and (high > limits[1] or low < limits[0]):
                raise InvalidInput(
                    f"{where} has a value beyond the range of {dtype} (±{limits[1]:.8g})"
                )
        return arr.astype(target, copy=False)
    if target.kind in "iu":
        if arr.dtype.kind == "f" and (
            not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr))
        ):
            raise InvalidInput(f"{where} expects whole numbers ({dtype}); got fractions")
        low, high = dtype_range(dtype) or (0, 0)
        # Whole values above `high` are >= high + 1; compared as floats, int64's high itself
        # rounds up to 2**63, which would pass `> high` and wrap around in the cast.
        if arr.size and (arr.min() < low or arr.max() >= int(high) + 1):
            raise InvalidInput(f"{where} has a value outside the range of {dtype} [{low}, {high}]")
        return arr.astype(target, copy=False)
    if target.kind == "b":
        if arr.dtype.kind != "b":
            raise InvalidInput(f"{where} expects booleans (true/false)")
        return arr
    raise InvalidInput(f"{where} has dtype {dtype}, which JSON inputs cannot express")


@lru_cache(maxsize=64)
def _dtype(name: str) -> np.dtype[Any]:
    return np.dtype(name)


def check_shape(arr: np.ndarray, spec: TensorSpec, where: str) -> None:
    if arr.ndim != len(spec.shape):
        hint = ""
        if arr.ndim == len(spec.shape) - 1:
            hint = "; to send one row, wrap it in a list: [[...]]"
        raise InvalidInput(
            f"{where} expects a batch of rows of shape {row_shape(spec)} "
            f"({len(spec.shape)}-D); got shape {quote(list(arr.shape))}{hint}"
        )
    for axis, (want, got) in enumerate(zip(spec.shape, arr.shape, strict=True)):
        if axis > 0 and isinstance(want, int) and want != got:
            raise InvalidInput(
                f"{where} expects rows of shape {row_shape(spec)}; "
                f"got shape {quote(list(arr.shape[1:]))}"
            )


def row_shape(spec: TensorSpec) -> list[Any]:
    return [d if isinstance(d, int) else "any" for d in spec.shape[1:]]


def is_column(spec: TensorSpec) -> bool:
    """One value per row: a tabular model's column (rows, 1), or a 1-D input."""
    return len(spec.shape) == 1 or (len(spec.shape) == 2 and spec.shape[1] == 1)


def json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _kind_name(kind: str) -> str:
    return {"f": "numbers", "i": "numbers", "u": "numbers", "b": "booleans"}.get(
        kind, "mixed types"
    )
