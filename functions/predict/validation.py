"""Pure functions from the request body's bytes to the model's input tensors.

Each check names what was wrong, in the client's terms; nothing here touches the session.
What comes before (base64, Content-Type, body size) is the HTTP contract: contract.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from functions.predict import contract
from functions.predict.exceptions import InvalidInput, InvalidJSON
from model_store.manifest import TensorSpec

_NON_FINITE_TOKENS = (b"NaN", b"Infinity")
_MAX, _MIN, _SUM = np.maximum.reduce, np.minimum.reduce, np.add.reduce
# numbers_only: what a body of nested lists of numbers holds besides `{"inputs":}`.
_NUMBER_CHARS = b"0123456789.eE+-,[] \t\n\r"
_INPUTS_ONLY = b'{"inputs":}'
FLOATS = {name: np.dtype(name) for name in ("float16", "float32", "float64")}
# x·x of a flattened array: finite exactly when every value is finite and |x| < ~1e19
# (float32); a larger value only takes the slower exact check. Cheaper than a float64 sum
# (no cast buffer), measured in bench/hotpath.py.
VDOT = np.vdot
_FORMS = {"inputs", "instances"}


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


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            raise InvalidJSON('the body is empty; send JSON like {"inputs": [[...]]}') from None
        if any(token in raw for token in _NON_FINITE_TOKENS):
            raise InvalidInput(
                "the body contains NaN or Infinity, which are not JSON numbers; "
                "inputs must be finite numbers"
            ) from exc
        raise InvalidJSON(f"the body is not valid JSON: {contract.clip(str(exc))}") from exc


def numbers_only(raw: bytes) -> bool:
    """Whether the body is exactly `{"inputs": ...}` of nested lists of JSON numbers.

    One C pass over the bytes: delete every character a number or a list can have; a body
    of numbers leaves `{"inputs":}`, while a string, true, false or null leaves letters or
    quotes. It lets `to_array` convert straight to the input's dtype (`fast_array`).
    """
    return raw.translate(None, _NUMBER_CHARS) == _INPUTS_ONLY


def to_feeds(
    payload: Any, specs: tuple[TensorSpec, ...], max_batch: int, *, numbers: bool = False
) -> tuple[dict[str, np.ndarray], int]:
    """Validate `{"inputs": ...}` or `{"instances": [...]}` against the model's inputs; return
    (feeds, batch size). `numbers`: the body passed `numbers_only`."""
    if type(payload) is dict and len(payload) == 1 and len(specs) == 1:
        # The usual request, {"inputs": [rows]} for a one-input model: the checks below
        # would all pass; to_array checks the rows as the general path does.
        rows = payload.get("inputs")
        if type(rows) is list:
            spec = specs[0]
            arr = fast_array(rows, spec, max_batch) if numbers else None
            if arr is None:
                arr = to_array(rows, spec, max_batch)
            return {spec.name: arr}, int(arr.shape[0])
    if not isinstance(payload, dict):
        raise InvalidInput(
            f'the body must be a JSON object like {{"inputs": [[...]]}}; got {_json_type(payload)}'
        )
    extra = sorted(set(payload) - _FORMS)
    if "inputs" not in payload and "instances" not in payload:
        given = contract.quote(sorted(payload))
        raise InvalidInput(
            f'the body has no "inputs" field, nor "instances" '
            f"(fields given ({len(payload)}): {given})"
        )
    if extra:
        raise InvalidInput(
            f"unknown fields ({len(extra)}): {contract.quote(extra)}; "
            'the body takes "inputs" or "instances"'
        )
    if len(payload) > 1:
        raise InvalidInput('send either "inputs" or "instances", not both')
    if "instances" in payload:
        return _from_instances(payload["instances"], specs, max_batch)
    inputs = payload["inputs"]
    names = [s.name for s in specs]
    if isinstance(inputs, Mapping):
        missing = sorted(set(names) - set(inputs))
        unknown = sorted(set(inputs) - set(names))
        if missing or unknown:
            raise InvalidInput(
                f"inputs by name must be exactly {contract.quote(names)}; missing "
                f"{contract.quote(missing)}, unknown {contract.quote(unknown)}"
            )
        values = {s.name: inputs[s.name] for s in specs}
    elif len(specs) == 1:
        values = {specs[0].name: inputs}
    else:
        raise InvalidInput(
            f"this model has {len(specs)} inputs {contract.quote(names)}: send "
            f'{{"inputs": {{"{contract.clip(names[0], 60)}": [...], ...}}}} '
            f'or {{"instances": [{{"{contract.clip(names[0], 60)}": ..., ...}}]}}'
        )
    feeds = {s.name: to_array(values[s.name], s, max_batch) for s in specs}
    batches = {name: int(arr.shape[0]) for name, arr in feeds.items()}
    if len(set(batches.values())) > 1:
        raise InvalidInput(
            f"all inputs must have the same number of rows; got {contract.quote(batches)}"
        )
    return feeds, next(iter(batches.values()))


def is_column(spec: TensorSpec) -> bool:
    """One value per row: a tabular model's column (rows, 1), or a 1-D input."""
    return len(spec.shape) == 1 or (len(spec.shape) == 2 and spec.shape[1] == 1)


def _from_instances(
    instances: Any, specs: tuple[TensorSpec, ...], max_batch: int
) -> tuple[dict[str, np.ndarray], int]:
    """Row records (TF Serving's and KServe v1's form): each instance is an object by input
    name (a column takes one value), or, for a one-input model, that input's row."""
    if not isinstance(instances, list):
        raise InvalidInput(f'"instances" must be a list of rows; got {_json_type(instances)}')
    if not instances:
        raise InvalidInput('"instances" is an empty batch; send at least one row')
    contract.check_batch('"instances"', len(instances), max_batch)
    names = [s.name for s in specs]
    known = set(names)
    values: dict[str, list[Any]] = {name: [] for name in names}
    for i, row in enumerate(instances):
        if isinstance(row, dict):
            if len(row) != len(names) or not known.issuperset(row):
                unknown = sorted(set(row) - known)
                if unknown:
                    raise InvalidInput(
                        f"instances[{i}]: unknown field{'s' if len(unknown) > 1 else ''} "
                        f"{contract.quote(unknown)}; the fields are {contract.quote(names)}"
                    )
                missing = [n for n in names if n not in row]
                raise InvalidInput(
                    f"instances[{i}]: missing field{'s' if len(missing) > 1 else ''} "
                    f"{contract.quote(missing)}"
                )
            for name in names:
                values[name].append(row[name])
        elif len(specs) == 1 and not is_column(specs[0]):
            values[names[0]].append(row)
        else:
            raise InvalidInput(
                f"instances[{i}] must be an object with the fields {contract.quote(names)}; "
                f"got {_json_type(row)}"
            )
    feeds = {}
    for spec in specs:
        if is_column(spec):
            feeds[spec.name] = _column(values[spec.name], spec)
        else:
            feeds[spec.name] = _rows(values[spec.name], spec, max_batch)
    return feeds, len(instances)


def _column(values: list[Any], spec: TensorSpec) -> np.ndarray:
    """One value per row for a column input, each checked, so an error names its row."""
    field = contract.quote(spec.name)
    if spec.dtype == "str":
        for i, v in enumerate(values):
            if type(v) is not str:
                raise InvalidInput(
                    f"instances[{i}]: field {field} expects a string; got {_json_type(v)}"
                )
            if len(v) > contract.MAX_STRING_CHARS:
                raise InvalidInput(
                    f"instances[{i}]: field {field} is a string of {len(v)} characters; "
                    f"the limit is {contract.MAX_STRING_CHARS}"
                )
        arr = np.array(values, dtype=object)
    elif spec.dtype == "bool":
        for i, v in enumerate(values):
            if type(v) is not bool:
                raise InvalidInput(
                    f"instances[{i}]: field {field} expects a boolean; got {_json_type(v)}"
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
                    f"got {_json_type(v)}"
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


def _rows(values: list[Any], spec: TensorSpec, max_batch: int) -> np.ndarray:
    """An input that is not a column, from its value in each instance."""
    try:
        return to_array(values, spec, max_batch)
    except InvalidInput as err:
        for i, v in enumerate(values):  # the slow path, on errors only: name the first bad row
            try:
                to_array([v], spec, max_batch)
            except InvalidInput:
                raise InvalidInput(f"instances[{i}]: {err.message}") from None
        raise


def rows_array(
    rows: Any, dtype: np.dtype[Any], tail: tuple[int, ...], max_batch: int
) -> np.ndarray | None:
    """`rows`, known to hold only numbers (`numbers_only`), as an array of the float `dtype`
    whose rows have the fixed shape `tail`; None when anything is off (not a list, empty,
    over `max_batch`, ragged, another shape, a value not finite in `dtype`)."""
    if type(rows) is not list or not 0 < len(rows) <= max_batch:
        return None
    try:
        # A value beyond float32 becomes inf (refused below) with numpy's RuntimeWarning
        # "overflow encountered in cast", shown once per process: cheaper than np.errstate.
        arr = np.asarray(rows, dtype=dtype)
    except (ValueError, RuntimeWarning):  # ragged rows; an overflow, if warnings are errors
        return None
    if arr.shape[1:] != tail or not _finite(arr):  # the tuple compares the rank too
        return None
    return arr


def _finite(arr: np.ndarray) -> bool:
    if arr.dtype.itemsize >= 4:
        return math.isfinite(VDOT(arr, arr))
    return math.isfinite(_SUM(arr, axis=None, dtype=np.float64))  # float16: x·x passes 65504


def fast_array(rows: list[Any], spec: TensorSpec, max_batch: int) -> np.ndarray | None:
    """`rows`, known to hold only numbers (`numbers_only`), straight to a float input's dtype:
    the same array `to_array` gives without its type-discovery pass and float64 copy, or None
    when anything is off (then `to_array` runs and names the problem)."""
    target = FLOATS.get(spec.dtype)
    if target is None:
        return None
    tail = _fixed_tail(spec)
    if tail is not None and spec.shape:
        return rows_array(rows, target, tail, max_batch)
    if not rows or len(rows) > max_batch:
        return None
    try:
        # A value beyond float32 becomes inf (refused below) with numpy's RuntimeWarning
        # "overflow encountered in cast", shown once per process: cheaper than np.errstate
        # on every request (measured in bench/hotpath.py's profile).
        arr = np.asarray(rows, dtype=target)
    except ValueError:  # rows of different lengths
        return None
    if not _finite(arr):
        return None
    if arr.ndim != len(spec.shape) or any(
        isinstance(want, int) and want != got
        for want, got in zip(spec.shape[1:], arr.shape[1:], strict=True)
    ):
        return None
    return arr


@lru_cache(maxsize=64)
def _fixed_tail(spec: TensorSpec) -> tuple[int, ...] | None:
    """The row shape when every dimension after the batch is fixed (one tuple compare)."""
    tail = spec.shape[1:]
    return (
        tuple(d for d in tail if isinstance(d, int))
        if all(isinstance(d, int) for d in tail)
        else None
    )


def to_array(value: Any, spec: TensorSpec, max_batch: int) -> np.ndarray:
    """One input as an array of the spec's dtype and shape, or an error naming the problem."""
    where = f"input {spec.name!r}"
    if not isinstance(value, list):
        raise InvalidInput(f"{where} must be a list of rows; got {_json_type(value)}")
    if not value:
        raise InvalidInput(f"{where} is an empty batch; send at least one row")
    contract.check_batch(where, len(value), max_batch)
    try:
        arr = np.asarray(value)
    except ValueError:
        raise InvalidInput(
            f"{where}: rows have different lengths or nesting; every row needs shape {row_shape(spec)}"
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
    if longest > contract.MAX_STRING_CHARS:
        raise InvalidInput(
            f"{where} has a string of {longest} characters; "
            f"the limit is {contract.MAX_STRING_CHARS}"
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
            f"({len(spec.shape)}-D); got shape {contract.quote(list(arr.shape))}{hint}"
        )
    for axis, (want, got) in enumerate(zip(spec.shape, arr.shape, strict=True)):
        if axis > 0 and isinstance(want, int) and want != got:
            raise InvalidInput(
                f"{where} expects rows of shape {row_shape(spec)}; "
                f"got shape {contract.quote(list(arr.shape[1:]))}"
            )


def row_shape(spec: TensorSpec) -> list[Any]:
    return [d if isinstance(d, int) else "any" for d in spec.shape[1:]]


def _json_type(value: Any) -> str:
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
