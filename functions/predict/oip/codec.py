"""The Open Inference Protocol's tensors: an `infer` request read into feeds, the run's outputs
written as its answer (JSON, or a JSON header and binary data after it).

One implementation each way. The usual request, tritonclient's binary tensors, is its cheap
case: the tensor is read in place (a view of the body, which onnxruntime reads during the run
and does not keep), and an answer with every output binary and no id has its header written
from a template (the same bytes orjson gives for the general answer's dicts).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import orjson

from functions.predict import limits
from functions.predict.body import BINARY, JSON, decode_base64
from functions.predict.exceptions import InvalidBase64, InvalidInput, InvalidTensor
from functions.predict.exchange import Answer
from functions.predict.forms.arrays import VDOT, cast
from functions.predict.forms.jsonbody import parse_json
from functions.predict.limits import MAX_STRING_CHARS, base64_size, check_batch
from functions.predict.limits import check_response_size as check_size
from functions.predict.messages import quote
from functions.predict.oip import DATATYPES, HEADER_LENGTH, WIRE, datatype, wire_shape
from functions.predict.processing import IMAGE
from functions.predict.service import PredictionService, check_output
from model_store.manifest import TensorSpec

_NAMES = {dt: name for name, dt in DATATYPES.items() if dt != "BYTES"}
# An output's numpy dtype -> its datatype (dtype.name costs microseconds a call).
_BY_DTYPE = {np.dtype(name): dt for name, dt in DATATYPES.items() if dt != "BYTES"}
_FIELDS = frozenset({"id", "parameters", "inputs", "outputs"})
_TENSOR_FIELDS = frozenset({"name", "shape", "datatype", "parameters", "data"})
_DUMPS = orjson.OPT_SERIALIZE_NUMPY
_NO_PARAMETERS: Mapping[str, Any] = {}
# A dtype whose bytes are little-endian already ("=" on a little-endian machine, "|" for one byte).
_LITTLE = ("<", "|") + (("=",) if sys.byteorder == "little" else ())
_IS_LITTLE = sys.byteorder == "little"
NULL = b"null"  # how orjson writes NaN and ±inf


class InferRequest(NamedTuple):
    """A parsed `infer` request: the feeds for onnxruntime and how to answer."""

    feeds: dict[str, np.ndarray]
    outputs: list[tuple[str, bool]]  # (name, binary) in order
    batch: int
    id: str | None


class TensorCodec:
    """Reads and writes one model's tensors; what each input and output needs, built once."""

    def __init__(self, service: PredictionService) -> None:
        manifest = service.manifest
        self.processing = service.processing
        # A model with processing takes its content (images, texts) as one BYTES input, whose
        # elements become its items; any other model, its tensors.
        self.input_specs = (
            (TensorSpec(self.processing.oip_input, (None,), "str"),)
            if self.processing is not None
            else manifest.inputs
        )
        # What a BYTES input's elements are: short strings (a tabular column), or the items.
        self._elements = {s.name: "str" for s in self.input_specs}
        if self.processing is not None:
            self._elements[self.processing.oip_input] = self.processing.kind
        self.specs = {s.name: s for s in self.input_specs}
        self._shapes = {s.name: wire_shape(s) for s in self.input_specs}
        # Per input whose dimensions after the batch are all fixed: its wire shape's tail (one
        # list compare for the usual request; `_shape` checks every other case).
        self._tails = {n: w[1:] for n, w in self._shapes.items() if min(w[1:], default=0) >= 0}
        # Per input: how messages name it, and its datatype.
        self._where = {s.name: f"input {quote(s.name)}" for s in self.input_specs}
        self._datatype = {s.name: datatype(s.dtype) for s in self.input_specs}
        self.output_names = service.model.output_names
        self._output_index = {name: i for i, name in enumerate(self.output_names)}
        self._max_batch = service.settings.max_batch
        self._json = {**service.model_headers, "content-type": JSON}
        self._binary = {**service.model_headers, "content-type": BINARY}
        self.model_id = {"model_name": manifest.name, "model_version": str(manifest.version)}
        # The all-binary answer's header pieces: the model's id, each output's name as JSON.
        self._head = orjson.dumps(self.model_id).decode()[:-1] + ',"outputs":['
        self._output_json = [orjson.dumps(n).decode() for n in self.output_names]
        self._all_json = [(name, False) for name in self.output_names]
        self._all_binary = [(name, True) for name in self.output_names]

    # -- the request ----------------------------------------------------------------------
    def parse(self, raw: bytes, header_length: str | None) -> InferRequest:
        """Validate an `infer` body (JSON header, then binary tensors) against the model."""
        if header_length is None:
            header, n = raw, len(raw)  # JSON tensors only: no binary data after the header
        else:
            size = header_length.strip()
            if not size.isdigit() or int(size) > len(raw):
                raise InvalidTensor(
                    f"Inference-Header-Content-Length {quote(size, 40)} must be a "
                    f"whole number of bytes no larger than the body ({len(raw)} bytes)"
                )
            n = int(size)
            header = raw[:n]
        try:
            payload = orjson.loads(header)
        except orjson.JSONDecodeError:
            payload = parse_json(header)  # raises, naming what is wrong
        if type(payload) is not dict:
            raise InvalidInput('the request must be a JSON object like {"inputs": [...]}')
        if not payload.keys() <= _FIELDS:
            raise InvalidInput(
                f"unknown fields {quote(sorted(payload.keys() - _FIELDS))}; an inference "
                "request has id, parameters, inputs and outputs"
            )
        request_id = payload.get("id")
        if request_id is not None and type(request_id) is not str:
            raise InvalidInput('"id" must be a string')
        params = payload.get("parameters")
        if params is not None and type(params) is not dict:
            _parameters(params, "the request")  # raises, naming it
        inputs = payload.get("inputs")
        if type(inputs) is not list or not inputs:
            raise InvalidInput('"inputs" must be a non-empty list of tensors')
        feeds: dict[str, np.ndarray] = {}
        offset = n  # where the next input's binary data starts in the body
        for tensor in inputs:
            if type(tensor) is not dict:
                i = next(j for j, t in enumerate(inputs) if t is tensor)
                raise InvalidInput(f"inputs[{i}] must be an object (name, shape, datatype, data)")
            offset += self._tensor(tensor, raw, offset, feeds)
        if len(feeds) != len(self.specs):
            missing = [name for name in self.specs if name not in feeds]
            raise InvalidInput(f"missing inputs {quote(missing)}")
        if offset != len(raw):
            raise InvalidTensor(
                f"the body has {len(raw) - offset} bytes of binary data after the last "
                "input's binary_data_size; each input's binary_data_size must give its bytes"
            )
        if len(feeds) == 1:
            for only in feeds.values():
                batch = int(only.shape[0])
        else:
            batches = {name: int(a.shape[0]) for name, a in feeds.items()}
            if len(set(batches.values())) > 1:
                raise InvalidInput(
                    f"all inputs must have the same batch size; got {quote(batches)}"
                )
            batch = next(iter(batches.values()))
        if self.processing is not None:  # the items become the model's own feeds
            items = feeds[self.processing.oip_input].reshape(-1).tolist()
            feeds = self.processing.input.feeds(items, {})
        requested = payload.get("outputs")
        if requested is None and params is not None and params.get("binary_data_output") is True:
            outputs = self._all_binary  # tritonclient's request when no outputs are named
        else:
            outputs = self._outputs(requested, params or _NO_PARAMETERS)
        return InferRequest(feeds, outputs, batch, request_id)

    def _outputs(self, requested: Any, params: Mapping[str, Any]) -> list[tuple[str, bool]]:
        default = params.get("binary_data_output", False)
        if type(default) is not bool:
            raise InvalidInput('parameters "binary_data_output" must be true or false')
        if requested is None:
            return self._all_binary if default else self._all_json
        if not isinstance(requested, list):
            raise InvalidInput('"outputs" must be a list like [{"name": "..."}]')
        out = []
        for i, item in enumerate(requested):
            name = item.get("name") if isinstance(item, dict) else None
            if name not in self._output_index:
                raise InvalidInput(
                    f"outputs[{i}] names no output of the model "
                    f"({quote(name)}); the outputs are {quote(list(self.output_names))}"
                )
            binary = _parameters(item.get("parameters"), f"outputs[{i}]").get(
                "binary_data", default
            )
            if not isinstance(binary, bool):
                raise InvalidInput(f'outputs[{i}] parameters "binary_data" must be true or false')
            out.append((name, binary))
        return out

    def _tensor(
        self, tensor: dict[str, Any], raw: bytes, offset: int, feeds: dict[str, np.ndarray]
    ) -> int:
        """One input into `feeds`, its binary data (if any) at `offset` in the body `raw`;
        returns how many binary bytes it used."""
        name = tensor.get("name")
        spec = self.specs.get(name) if type(name) is str else None
        if spec is None or name is None:
            raise InvalidInput(
                f"input {quote(name)} is not an input of the model; the inputs are "
                f"{quote(list(self.specs))}"
            )
        where = self._where[name]
        if name in feeds:
            raise InvalidInput(f"{where} is given twice")
        if not tensor.keys() <= _TENSOR_FIELDS:
            unknown = sorted(tensor.keys() - _TENSOR_FIELDS)
            raise InvalidInput(f"{where} has unknown fields {quote(unknown)}")
        want = self._datatype[name]
        if tensor.get("datatype") != want:
            raise InvalidInput(
                f"{where} has datatype {quote(tensor.get('datatype'), 40)}; the model takes {want}"
            )
        shape = tensor.get("shape")
        tail = self._tails.get(name)
        if (
            tail is None
            or type(shape) is not list
            or not shape
            or shape[1:] != tail  # a list compare takes 64.0 and True for 64 and 1...
            or type(shape[0]) is not int
            or not 0 < shape[0] <= self._max_batch
        ):
            shape = self._shape(shape, name, where)
        else:
            for d in shape:  # ...so each dimension's type is checked too
                if type(d) is not int:
                    shape = self._shape(shape, name, where)
        count = math.prod(shape)
        params = tensor.get("parameters")
        if params is None:
            size = None
        else:
            size = (params if type(params) is dict else _parameters(params, where)).get(
                "binary_data_size"
            )
        if size is not None:
            if "data" in tensor:
                raise InvalidTensor(f"{where} has both data and binary_data_size; send one")
            if type(size) is not int or size < 0:
                raise InvalidTensor(f"{where}: binary_data_size must be a whole number of bytes")
            if offset + size > len(raw):
                raise InvalidTensor(
                    f"{where} has binary_data_size {size} but only {len(raw) - offset} "
                    "bytes of binary data are left in the body"
                )
            elements = self._elements[name]
            feeds[name] = _from_binary(raw, offset, size, want, shape, count, where, elements)
            return size
        if "data" not in tensor:
            raise InvalidInput(f'{where} has no "data" and no binary_data_size parameter')
        arr = _from_json(tensor["data"], spec, shape, count, where)
        if self._elements[name] == IMAGE:  # images in JSON: base64 text, as OVMS takes them
            arr = np.array(
                [_base64_image(v, f"{where} data[{i}]") for i, v in enumerate(arr.reshape(-1))],
                dtype=object,
            ).reshape(arr.shape)
        feeds[name] = arr
        return 0

    def _shape(self, shape: Any, name: str, where: str) -> list[int]:
        # Loops, not all()/any() over generators: a few µs less on every request.
        if type(shape) is not list or not shape:
            raise InvalidInput(f"{where}: shape must be a list of whole numbers, like [1, 64]")
        for d in shape:
            if type(d) is not int or d < 0:
                raise InvalidInput(f"{where}: shape must be a list of whole numbers, like [1, 64]")
        wanted = self._shapes[name]
        fits = len(shape) == len(wanted)
        if fits:
            for w, d in zip(wanted[1:], shape[1:], strict=True):
                if w >= 0 and w != d:
                    fits = False
                    break
        if not fits:
            raise InvalidInput(
                f"{where} has shape {quote(shape, 80)}; the model takes {wanted} (-1: any size)"
            )
        if shape[0] == 0:
            raise InvalidInput(f"{where} is an empty batch; send at least one row")
        if shape[0] > self._max_batch:
            check_batch(where, shape[0], self._max_batch)
        return shape

    # -- the answer -----------------------------------------------------------------------
    def encode(
        self,
        outputs: list[tuple[str, bool]],
        batch: int,
        request_id: str | None,
        results: list[np.ndarray],
    ) -> Answer:
        """The `infer` answer to the `outputs` asked for, from the run's `results` (in
        output_names order), refusing outputs that are not finite (service.check_output)."""
        if outputs is self._all_binary and request_id is None and _IS_LITTLE:
            # Every output binary and no id, the usual answer: its header written from the
            # template, the same bytes orjson gives for the dicts below.
            pieces = []
            chunks = []
            for name, text, value in zip(
                self.output_names, self._output_json, results, strict=True
            ):
                dt = value.dtype
                kind = _BY_DTYPE.get(dt)
                if dt.kind == "f" and not math.isfinite(VDOT(value, value)):
                    check_output(name, value)  # NaN or ±inf, or huge: it decides, naming rows
                raw = value.tobytes() if kind is not None else _to_binary(value)
                if kind is None:
                    kind = datatype(dt.name)
                dims = value.shape
                shape = (
                    f"{dims[0]},{dims[1]}"  # a classifier's scores
                    if len(dims) == 2
                    else str(dims[0])
                    if len(dims) == 1
                    else ",".join([str(d) for d in dims])
                )
                pieces.append(
                    f'{{"name":{text},"datatype":"{kind}","shape":[{shape}],'
                    f'"parameters":{{"binary_data_size":{len(raw)}}}}}'
                )
                chunks.append(raw)
            header = f"{self._head}{','.join(pieces)}]}}".encode()
        else:
            header, chunks = self._header(outputs, request_id, results)
        if not chunks:
            check_size(len(header), batch)
            return Answer(200, header, self._json, False, batch)
        body = b"".join([header, *chunks])
        size = base64_size(len(body))
        if size > limits.MAX_RESPONSE_BYTES:
            check_size(size, batch)
        headers = {**self._binary, HEADER_LENGTH: str(len(header))}
        return Answer(200, body, headers, True, batch)

    def _header(
        self, outputs: list[tuple[str, bool]], request_id: str | None, results: list[np.ndarray]
    ) -> tuple[bytes, list[bytes]]:
        """The answer's JSON header (JSON outputs in it) and the binary outputs' bytes."""
        tensors: list[dict[str, Any]] = []
        chunks: list[bytes] = []
        index = self._output_index
        as_json = []
        for name, binary in outputs:
            value = results[index[name]]
            dtype = value.dtype
            item: dict[str, Any] = {
                "name": name,
                "datatype": _BY_DTYPE.get(dtype) or datatype(dtype.name),
                "shape": list(value.shape),
            }
            if binary:
                if dtype.kind == "f" and not math.isfinite(VDOT(value, value)):
                    check_output(name, value)
                # Numbers in little-endian order already (this machine's) go as they are.
                raw = value.tobytes() if dtype in _BY_DTYPE and _IS_LITTLE else _to_binary(value)
                item["parameters"] = {"binary_data_size": len(raw)}
                chunks.append(raw)
            else:
                as_json.append((name, value))
                if dtype.kind in "fiub":
                    item["data"] = value.reshape(-1)
                else:
                    item["data"] = value.reshape(-1).tolist()
            tensors.append(item)
        out: dict[str, Any] = dict(self.model_id)
        if request_id is not None:
            out["id"] = request_id
        out["outputs"] = tensors
        header = orjson.dumps(out, option=_DUMPS)
        if NULL in header:  # orjson writes NaN and ±inf as null: look at the arrays
            for name, value in as_json:
                if value.dtype.kind == "f":
                    check_output(name, value)
        return header, chunks


def _parameters(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise InvalidInput(f'{where}: "parameters" must be an object')
    return value


def _from_binary(
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
        return _bytes_elements(chunk, count, where, elements).reshape(shape)
    dtype = WIRE[want]
    if size != count * dtype.itemsize:
        raise InvalidTensor(
            f"{where} has binary_data_size {size}; shape {shape} of {want} is "
            f"{count * dtype.itemsize} bytes ({count} × {dtype.itemsize})"
        )
    # A read-only view of the body in place: onnxruntime reads it during the run and keeps
    # nothing (a copy would cost a microsecond at batch 64). Swapped on a big-endian machine.
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    if not _IS_LITTLE and dtype.itemsize > 1:
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


def _bytes_elements(raw: bytes, count: int, where: str, elements: str = "str") -> np.ndarray:
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


def _base64_image(value: Any, where: str) -> bytes:
    try:
        return decode_base64(value)
    except InvalidBase64 as err:
        raise InvalidBase64(f"{where} is not an image as base64 text: {err.message}") from None


def _from_json(data: Any, spec: TensorSpec, shape: list[int], count: int, where: str) -> np.ndarray:
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
        if kind == "U" and arr.dtype.itemsize // 4 > MAX_STRING_CHARS:
            raise InvalidInput(f"{where} has a string longer than {MAX_STRING_CHARS} characters")
        return cells
    if kind in "USO":
        raise InvalidInput(f"{where} expects numbers ({datatype(dtype)}); got other values")
    if kind == "b" and dtype != "bool":
        raise InvalidInput(f"{where} expects numbers ({datatype(dtype)}); got booleans")
    return cast(arr, dtype, where)


def _to_binary(value: np.ndarray) -> bytes:
    if value.dtype.kind in "OUS":
        parts = []
        for item in value.reshape(-1).tolist():
            raw = item if isinstance(item, bytes) else str(item).encode()
            parts.append(len(raw).to_bytes(4, "little"))
            parts.append(raw)
        return b"".join(parts)
    if value.dtype.byteorder in _LITTLE:
        return value.tobytes()
    return value.astype(value.dtype.newbyteorder("<")).tobytes()
