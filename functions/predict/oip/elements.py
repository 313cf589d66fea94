"""One tensor's values from the body: binary data (numbers in place, BYTES elements) or JSON
`data` (flat or nested by shape), refused where they do not add up."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from functions.predict.body import decode_base64
from functions.predict.exceptions import InvalidBase64, InvalidInput, InvalidTensor
from functions.predict.forms.arrays import VDOT, cast
from functions.predict.limits import MAX_STRING_CHARS
from functions.predict.messages import quote
from functions.predict.oip import DATATYPES, IS_LITTLE, WIRE, datatype
from functions.predict.processing import IMAGE
from model_store.manifest import TensorSpec

_NAMES = {dt: name for name, dt in DATATYPES.items() if dt != "BYTES"}


def from_binary(
    raw: bytes,
    offset: int,
    size: int,
    want: str,
    shape: list[int],
    count: int,
    where: str,
    elements: str = "str",
) -> np.ndarray:
    """One input's `size` bytes of binary data at `offset` in the body `raw`."""
    if want == "BYTES":
        chunk = raw[offset : offset + size]
        return bytes_elements(chunk, count, where, elements).reshape(shape)
    dtype = WIRE[want]
    if size != count * dtype.itemsize:
        raise InvalidTensor(
            f"{where} has binary_data_size {size}; shape {shape} of {want} is "
            f"{count * dtype.itemsize} bytes ({count} × {dtype.itemsize})"
        )
    # A read-only view of the body in place: onnxruntime reads it during the run and keeps
    # nothing (a copy would cost a microsecond at batch 64). Swapped on a big-endian machine.
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    if not IS_LITTLE and dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    arr = arr.reshape(shape)
    if arr.dtype.kind == "f":
        # NaN and ±inf refused as in JSON. x·x is finite when every value is and none is huge
        # (float32: |x| < ~1e19); only otherwise does the exact check run, which decides.
        if not math.isfinite(VDOT(arr, arr)):
            cast(arr, _NAMES[want], where)
    elif arr.dtype.kind == "b" and arr.size and arr.view(np.uint8).max() > 1:
        raise InvalidTensor(f"{where}: BOOL bytes must be 0 or 1")
    return arr


def bytes_elements(raw: bytes, count: int, where: str, elements: str = "str") -> np.ndarray:
    """BYTES binary data: each element a 4-byte little-endian length, then that many bytes.

    `elements`: "str", a tabular model's strings (at most MAX_STRING_CHARS characters); TEXT,
    a text model's texts (its own limits apply when it reads them); IMAGE, encoded images
    (bytes, as they are)."""
    out: list[str | bytes] = []
    pos = 0
    cap = 4 * MAX_STRING_CHARS if elements == "str" else len(raw)
    for _ in range(count):
        if pos + 4 > len(raw):
            raise InvalidTensor(f"{where}: BYTES data ends before its {count} elements")
        n = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if n > cap or pos + n > len(raw):
            raise InvalidTensor(f"{where}: a BYTES element's length {n} is past the data or limit")
        if elements == IMAGE:
            out.append(raw[pos : pos + n])
            pos += n
            continue
        try:
            text = raw[pos : pos + n].decode()
        except UnicodeDecodeError:
            raise InvalidInput(f"{where}: a BYTES element is not UTF-8 text") from None
        if elements == "str" and len(text) > MAX_STRING_CHARS:
            raise InvalidInput(
                f"{where} has a string of {len(text)} characters; the limit is {MAX_STRING_CHARS}"
            )
        out.append(text)
        pos += n
    if pos != len(raw):
        raise InvalidTensor(
            f"{where} has binary_data_size {len(raw)}; its {count} BYTES elements take {pos}"
        )
    return np.array(out, dtype=object)


def base64_image(value: Any, where: str) -> bytes:
    try:
        return decode_base64(value)
    except InvalidBase64 as err:
        raise InvalidBase64(f"{where} is not an image as base64 text: {err.message}") from None


def from_json(
    data: Any,
    spec: TensorSpec,
    shape: list[int],
    count: int,
    where: str,
    max_chars: int | None = MAX_STRING_CHARS,
) -> np.ndarray:
    """`max_chars` bounds a BYTES element's text (None: an image's base64, which only the
    body's limit bounds)."""
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: data must be a list, flat or nested by shape")
    try:
        arr = np.asarray(data)
    except ValueError:
        raise InvalidInput(f"{where}: data is nested unevenly") from None
    if arr.size != count:
        raise InvalidInput(f"{where} has {arr.size} values in data; shape {shape} takes {count}")
    if arr.ndim != 1 and list(arr.shape) != shape:
        raise InvalidInput(
            f"{where}: nested data has shape {quote(list(arr.shape), 80)}, "
            f"not the tensor's shape {shape}; nest it by shape or send it flat"
        )
    arr = arr.reshape(shape)
    kind = arr.dtype.kind
    dtype = spec.dtype
    if dtype == "str":
        cells = np.asarray(data, dtype=object).reshape(shape)
        if not all(type(v) is str for v in cells.flat):
            raise InvalidInput(f"{where} expects strings (BYTES)")
        if max_chars is not None and kind == "U" and arr.dtype.itemsize // 4 > max_chars:
            raise InvalidInput(f"{where} has a string longer than {max_chars} characters")
        return cells
    if kind in "USO":
        raise InvalidInput(f"{where} expects numbers ({datatype(dtype)}); got other values")
    if kind == "b" and dtype != "bool":
        raise InvalidInput(f"{where} expects numbers ({datatype(dtype)}); got booleans")
    return cast(arr, dtype, where)
