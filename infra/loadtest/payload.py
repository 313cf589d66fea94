"""Request bodies for a load test, made from a model's manifest (pure functions).

From the local store the manifest carries an `example` body, whose rows are repeated to the
batch size. An endpoint's GET /model omits the example, so rows are generated from the input
specs: a fixed-seed pattern of the right shape and dtype.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from infra.loadtest.exceptions import PayloadError


def repeat_rows(rows: Sequence[Any], batch: int) -> list[Any]:
    """`batch` rows taken cyclically from `rows`."""
    if not rows:
        raise PayloadError("the example has no rows to repeat")
    return list(itertools.islice(itertools.cycle(rows), batch))


def _fixed_dims(shape: Sequence[Any]) -> list[int]:
    # The first dimension is the batch; a free dimension elsewhere gets 1.
    return [d if isinstance(d, int) and d > 0 else 1 for d in shape[1:]]


def _value(dtype: str, i: int) -> Any:
    if dtype.startswith("float"):
        return round((i * 7 % 17) / 16.0, 4)
    if dtype.startswith(("int", "uint")):
        return i * 7 % 10
    if dtype == "bool":
        return i % 2 == 0
    if dtype == "str":
        return f"s{i % 10}"
    raise PayloadError(f"cannot make values of dtype {dtype!r}")


def _tensor(dims: list[int], dtype: str, counter: itertools.count[int]) -> Any:
    if not dims:
        return _value(dtype, next(counter))
    return [_tensor(dims[1:], dtype, counter) for _ in range(dims[0])]


def rows_from_spec(spec: Mapping[str, Any], batch: int) -> list[Any]:
    """`batch` rows for one input spec (`{"name", "shape", "dtype"}`)."""
    shape = spec.get("shape")
    if not isinstance(shape, list | tuple) or not shape:
        raise PayloadError(f"input {spec.get('name')!r} has no usable shape: {shape!r}")
    counter = itertools.count()
    dims = _fixed_dims(shape)
    return [_tensor(dims, str(spec.get("dtype", "float32")), counter) for _ in range(batch)]


def body_for(manifest: Mapping[str, Any], batch: int) -> bytes:
    """A POST /predict body of `batch` rows for the model that `manifest` describes."""
    if batch < 1:
        raise PayloadError(f"batch must be at least 1, not {batch}")
    example = manifest.get("example")
    if isinstance(example, Mapping) and "inputs" in example:
        inputs = example["inputs"]
        if isinstance(inputs, Mapping):
            return orjson.dumps({"inputs": {k: repeat_rows(v, batch) for k, v in inputs.items()}})
        return orjson.dumps({"inputs": repeat_rows(inputs, batch)})
    specs = manifest.get("inputs")
    if not isinstance(specs, list) or not specs:
        raise PayloadError("the manifest lists no inputs, so no request body can be made")
    if len(specs) == 1:
        return orjson.dumps({"inputs": rows_from_spec(specs[0], batch)})
    return orjson.dumps({"inputs": {s["name"]: rows_from_spec(s, batch) for s in specs}})
