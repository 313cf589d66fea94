"""The Open Inference Protocol (KServe "v2", Triton's HTTP/REST API), from the model's manifest.

Routes (the protocol's own field names throughout):

    GET  /v2                                     server metadata
    GET  /v2/health/live, /v2/health/ready       liveness, readiness
    GET  /v2/models/{name}[/versions/{version}]  model metadata: inputs, outputs, datatypes, shapes
    GET  /v2/models/{name}[/versions/{version}]/ready
    POST /v2/models/{name}[/versions/{version}]/infer

`infer` takes JSON tensors (`data` flat or nested) and the binary tensor data extension as
tritonclient sends and reads it: an `Inference-Header-Content-Length` header, the JSON header,
then each input's raw little-endian bytes (`parameters.binary_data_size`); outputs come back
binary when asked (`binary_data` per output, or `binary_data_output` for all of them), with the
same header on the answer. Errors are `{"error": "..."}` (contract.oip_error_body).

Pure: bytes in, bytes out, no web framework; the direct paths (runtime.py, http.py) call
`Protocol.answer` and FastAPI only documents the routes (openapi.py).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import numpy as np
import orjson

from functions.predict import contract, validation
from functions.predict.exceptions import (
    HTTPError,
    InvalidInput,
    InvalidTensor,
    MethodNotAllowed,
    ModelNotFound,
    NotFound,
)
from functions.predict.service import NULL, PredictionService
from model_store.manifest import TensorSpec

HEADER_LENGTH = "inference-header-content-length"  # the binary extension's request/answer header
EXTENSIONS = ("binary_tensor_data",)
PLATFORM = "onnxruntime_onnx"  # Triton's name for an ONNX model run by onnxruntime
# numpy dtype name (the manifest's) -> the protocol's datatype; str is BYTES.
DATATYPES = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "str": "BYTES",
    "object": "BYTES",
}
# The protocol's datatype -> the little-endian dtype its binary data is, and its numpy name.
WIRE = {dt: np.dtype(name).newbyteorder("<") for name, dt in DATATYPES.items() if dt != "BYTES"}
_NAMES = {dt: name for name, dt in DATATYPES.items() if dt != "BYTES"}
_NATIVE = {dt: wire.newbyteorder("=") for dt, wire in WIRE.items()}
# An output's numpy dtype -> its datatype (dtype.name costs microseconds a call).
_BY_DTYPE = {np.dtype(name): dt for name, dt in DATATYPES.items() if dt != "BYTES"}
_FIELDS = frozenset({"id", "parameters", "inputs", "outputs"})
_TENSOR_FIELDS = frozenset({"name", "shape", "datatype", "parameters", "data"})
_DUMPS = orjson.OPT_SERIALIZE_NUMPY
_VDOT = validation.VDOT  # x·x: finite exactly when no value is NaN, ±inf or huge
_GET = ("GET", "HEAD")
# A dtype whose bytes are little-endian already ("=" on a little-endian machine, "|" for one byte).
_LITTLE = ("<", "|") + (("=",) if sys.byteorder == "little" else ())
_IS_LITTLE = sys.byteorder == "little"


# Not frozen: a frozen dataclass's __init__ costs ~1 µs more on every request (measured).
@dataclass(slots=True)
class Answer:
    """One answer of the protocol: status, body and the headers beyond content-length."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    binary: bool = False  # the body is not JSON (binary outputs): base64 on Lambda
    batch: int = 0
    code: str | None = None  # an error answer's code, for metrics


@dataclass(slots=True)
class InferRequest:
    """A parsed `infer` request: the feeds for onnxruntime and how to answer."""

    feeds: dict[str, np.ndarray]
    batch: int
    id: str | None
    outputs: list[tuple[str, bool]]  # (name, binary) in order


def datatype(dtype: str) -> str:
    return DATATYPES.get(dtype, dtype.upper())


def wire_shape(spec: TensorSpec) -> list[int]:
    """The protocol's shape: -1 for a free dimension."""
    return [d if isinstance(d, int) else -1 for d in spec.shape]


def tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "datatype": datatype(spec.dtype), "shape": wire_shape(spec)}


class Protocol:
    """The protocol for one loaded model; every constant answer is built once, here."""

    def __init__(self, service: PredictionService, server_version: str = "1") -> None:
        self.service = service
        manifest = service.manifest
        self.name, self.version = manifest.name, str(manifest.version)
        self.specs = {s.name: s for s in manifest.inputs}
        self._shapes = {s.name: wire_shape(s) for s in manifest.inputs}
        # Per input, built once: how messages name it, and its datatype.
        self._where = {s.name: f"input {contract.quote(s.name)}" for s in manifest.inputs}
        self._datatype = {s.name: datatype(s.dtype) for s in manifest.inputs}
        self.output_names = service.model.output_names
        self._max_batch = service.settings.max_batch
        self._max_bytes = service.settings.max_body_bytes
        self._json = {**service.model_headers, "content-type": contract.JSON}
        self._binary = {**service.model_headers, "content-type": contract.BINARY}
        self._output_index = {name: i for i, name in enumerate(self.output_names)}
        self._model_id = {"model_name": self.name, "model_version": self.version}
        # _all_binary_answer's header pieces: the model's id, each output's name as JSON.
        self._head = orjson.dumps(self._model_id).decode()[:-1] + ',"outputs":['
        self._output_json = [orjson.dumps(n).decode() for n in self.output_names]
        self._all_json = [(name, False) for name in self.output_names]
        self._all_binary = [(name, True) for name in self.output_names]
        self._metadata = self._ok(self.model_metadata())
        self._server = self._ok(
            {"name": "slipway", "version": server_version, "extensions": list(EXTENSIONS)}
        )
        self._live = self._ok({"live": True})
        self._ready = self._ok({"ready": True})
        self._model_ready = self._ok({"name": self.name, "ready": True})
        self._fast = _fast_input(manifest.inputs, self._max_batch)
        # The infer routes' plain spellings (what _route finds for them), looked up first.
        base = f"/v2/models/{self.name}"
        self._infer_paths = frozenset(
            {f"{base}/infer", f"{base}/versions/{self.version}/infer"}
            if "/" not in self.name and "%" not in self.name and "/" not in self.version
            else ()
        )

    def model_metadata(self) -> dict[str, Any]:
        manifest = self.service.manifest
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": PLATFORM,
            "inputs": [tensor_metadata(s) for s in manifest.inputs],
            "outputs": [tensor_metadata(s) for s in manifest.outputs],
        }

    # -- routing ---------------------------------------------------------------------------
    def answer(
        self, method: str, path: str, body: bytes, header_length: str | None = None
    ) -> Answer:
        """The answer to `method path` (a path under /v2) with the request's raw body."""
        try:
            if method == "POST" and path in self._infer_paths:  # the usual request: no parsing
                return self.infer(body, header_length)
            return self._route(method, path, body, header_length)
        except HTTPError as err:
            return self.error(err)

    def is_infer(self, method: str, path: str) -> bool:
        """Whether the request reads its body (a POST that may be an `infer`)."""
        return method == "POST" and path.endswith("/infer")

    def error(self, err: HTTPError, headers: Mapping[str, str] | None = None) -> Answer:
        return Answer(
            err.status, contract.oip_error_body(err), headers or self._json, code=err.code
        )

    def _not_allowed(self, method: str, path: str, allow: str) -> Answer:
        err = MethodNotAllowed(
            f"{contract.clip(method, 40)} is not allowed on {contract.clip(path)}"
        )
        return self.error(err, {**self._json, "allow": allow})

    def _ok(self, payload: Any) -> Answer:
        return Answer(200, orjson.dumps(payload), self._json)

    def _route(self, method: str, path: str, body: bytes, header_length: str | None) -> Answer:
        parts = path.rstrip("/").split("/")[2:]  # after "", "v2"
        if not parts:
            return self._get(method, path, self._server)
        if parts[0] == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
            return self._get(method, path, self._live if parts[1] == "live" else self._ready)
        if parts[0] != "models" or len(parts) < 2:
            raise NotFound(
                f"no Open Inference Protocol route for {contract.clip(path)}; "
                f"the model is at /v2/models/{self.name}"
            )
        name, rest = unquote(parts[1]), parts[2:]
        if name != self.name:
            raise ModelNotFound(
                f"no model named {contract.quote(name)} here; this endpoint serves "
                f"{self.name!r} (version {self.version})"
            )
        if rest[:1] == ["versions"]:
            if len(rest) < 2:
                raise NotFound(f"{contract.clip(path)} names no version")
            version = unquote(rest[1])
            if version != self.version:
                raise ModelNotFound(
                    f"model {self.name!r} has no version {contract.quote(version)} here; "
                    f"this endpoint serves version {self.version}"
                )
            rest = rest[2:]
        if not rest:
            return self._get(method, path, self._metadata)
        if rest == ["ready"]:
            return self._get(method, path, self._model_ready)
        if rest == ["infer"]:
            if method != "POST":
                return self._not_allowed(method, path, "POST")
            return self.infer(body, header_length)
        raise NotFound(f"no Open Inference Protocol route for {contract.clip(path)}")

    def _get(self, method: str, path: str, answer: Answer) -> Answer:
        return answer if method in _GET else self._not_allowed(method, path, "GET")

    # -- infer -----------------------------------------------------------------------------
    def infer(self, raw: bytes, header_length: str | None) -> Answer:
        if self._fast is not None and header_length is not None:
            try:
                done = self.infer_fast(raw, header_length)
            except HTTPError:
                done = None  # the general path below says what is wrong
            if done is not None:
                return done
        request = self.parse(raw, header_length)
        results = self.service.run(request.feeds, check=False)
        answer = self.encode(request.outputs, request.batch, request.id, results)
        # Binary outputs could carry NaN, JSON ones would as null: the contract refuses both.
        if answer.binary or NULL in answer.body:
            self.service.check_finite(results)
        return answer

    def fast_path(self, path: str) -> bool:
        """Whether `path` is a plain infer path `infer_fast` may answer (this model's)."""
        return self._fast is not None and path in self._infer_paths

    def infer_fast(self, raw: bytes, header_length: str) -> Answer | None:
        """The usual binary `infer`, decided in one pass, or None.

        tritonclient's binary request for a one-input float model (one tensor of
        binary_data_size, no `data`) with binary outputs: the answer `parse`, the run and
        `encode` give, with fewer steps. None whenever anything is off, a refusal included:
        the general path then decides and names the problem, so each rule stays there
        (tests/functions/predict/test_oip.py compares the two).
        """
        fast = self._fast
        assert fast is not None
        name, dtype, tail, want, per_row = fast
        size = header_length.strip()
        if not size.isdigit():
            return None
        n = int(size)
        try:
            payload = orjson.loads(raw[:n])
        except orjson.JSONDecodeError:
            return None
        if type(payload) is not dict or not payload.keys() <= _FIELDS:
            return None
        inputs = payload.get("inputs")
        request_id = payload.get("id")
        if (
            type(inputs) is not list
            or len(inputs) != 1
            or request_id is not None
            and (type(request_id) is not str)
        ):
            return None
        tensor = inputs[0]
        if (
            type(tensor) is not dict
            or tensor.get("name") != name
            or "data" in tensor
            or not tensor.keys() <= _TENSOR_FIELDS
            or tensor.get("datatype") != want
        ):
            return None
        shape, params = tensor.get("shape"), tensor.get("parameters")
        if type(shape) is not list or type(params) is not dict or len(shape) != len(tail) + 1:
            return None
        for d in shape:
            if type(d) is not int:  # not even bool or float: [n, 64.0] == [n, 64] in Python
                return None
        rows = shape[0]
        if not 0 < rows <= self._max_batch or shape[1:] != tail:
            return None
        size_given = params.get("binary_data_size")
        if type(size_given) is not int or size_given != len(raw) - n:
            return None
        count = rows * per_row
        if size_given != count * dtype.itemsize:
            return None
        # A read-only view of the body: onnxruntime reads it during the run and keeps nothing
        # (a copy would cost a microsecond at batch 64).
        arr = np.frombuffer(raw, dtype=dtype, count=count, offset=n).reshape(shape)
        if not math.isfinite(_VDOT(arr, arr)):
            return None
        # Raise (HTTPError) for what the general path refuses too: `infer` then runs it.
        params = payload.get("parameters")
        requested = payload.get("outputs")
        if requested is None and type(params) is dict and params.get("binary_data_output") is True:
            outputs = self._all_binary  # tritonclient's request when no outputs are named
        else:
            outputs = self._outputs(requested, _parameters(params, ""))
        feeds = {name: arr}
        results = self.service.run(feeds, check=False)
        if outputs is self._all_binary and request_id is None:
            return self._all_binary_answer(results, rows)
        answer = self.encode(outputs, rows, request_id, results)
        if answer.binary or NULL in answer.body:
            self.service.check_finite(results)
        return answer

    def _all_binary_answer(self, results: list[np.ndarray], rows: int) -> Answer | None:
        """`encode`'s answer with every output binary and no id, the header written directly
        (the same bytes orjson gives for encode's dicts), or None for `encode` and the
        general checks: an output that is not a little-endian number or not finite."""
        pieces = []
        chunks = []
        for name, value in zip(self._output_json, results, strict=True):
            dt = value.dtype
            kind = _BY_DTYPE.get(dt)
            if kind is None or not _IS_LITTLE:
                return None
            if dt.kind == "f" and not math.isfinite(_VDOT(value, value)):
                return None
            raw = value.tobytes()
            dims = value.shape
            shape = (
                f"{dims[0]},{dims[1]}"  # a classifier's scores
                if len(dims) == 2
                else str(dims[0])
                if len(dims) == 1
                else ",".join([str(d) for d in dims])
            )
            pieces.append(
                f'{{"name":{name},"datatype":"{kind}","shape":[{shape}],'
                f'"parameters":{{"binary_data_size":{len(raw)}}}}}'
            )
            chunks.append(raw)
        header = f"{self._head}{','.join(pieces)}]}}".encode()
        body = b"".join([header, *chunks])
        contract.check_response_size(contract.base64_size(len(body)), rows)
        headers = {**self._binary, HEADER_LENGTH: str(len(header))}
        return Answer(200, body, headers, binary=True, batch=rows)

    def parse(self, raw: bytes, header_length: str | None) -> InferRequest:
        """Validate an `infer` body (JSON header, then binary tensors) against the model."""
        binary: memoryview | bytes
        if header_length is None:
            header, binary = raw, b""
        else:
            size = header_length.strip()
            if not size.isdigit() or int(size) > len(raw):
                raise InvalidTensor(
                    f"Inference-Header-Content-Length {contract.quote(size, 40)} must be a "
                    f"whole number of bytes no larger than the body ({len(raw)} bytes)"
                )
            header, binary = raw[: int(size)], memoryview(raw)[int(size) :]
        payload = validation.parse_json(header)
        if not isinstance(payload, dict):
            raise InvalidInput('the request must be a JSON object like {"inputs": [...]}')
        unknown = payload.keys() - _FIELDS
        if unknown:
            raise InvalidInput(
                f"unknown fields {contract.quote(sorted(unknown))}; an inference request has "
                "id, parameters, inputs and outputs"
            )
        request_id = payload.get("id")
        if request_id is not None and not isinstance(request_id, str):
            raise InvalidInput('"id" must be a string')
        params = _parameters(payload.get("parameters"), "the request")
        inputs = payload.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise InvalidInput('"inputs" must be a non-empty list of tensors')
        feeds: dict[str, np.ndarray] = {}
        offset = 0
        for i, tensor in enumerate(inputs):
            if not isinstance(tensor, dict):
                raise InvalidInput(f"inputs[{i}] must be an object (name, shape, datatype, data)")
            arr, used = self._tensor(tensor, binary, offset, feeds)
            feeds[arr[0]] = arr[1]
            offset += used
        missing = [n for n in self.specs if n not in feeds]
        if missing:
            raise InvalidInput(f"missing inputs {contract.quote(missing)}")
        if offset != len(binary):
            raise InvalidTensor(
                f"the body has {len(binary) - offset} bytes of binary data after the last "
                "input's binary_data_size; each input's binary_data_size must give its bytes"
            )
        if len(feeds) == 1:
            (only,) = feeds.values()
            batch = int(only.shape[0])
        else:
            batches = {name: int(a.shape[0]) for name, a in feeds.items()}
            if len(set(batches.values())) > 1:
                raise InvalidInput(
                    f"all inputs must have the same batch size; got {contract.quote(batches)}"
                )
            batch = next(iter(batches.values()))
        return InferRequest(feeds, batch, request_id, self._outputs(payload.get("outputs"), params))

    def _outputs(self, requested: Any, params: Mapping[str, Any]) -> list[tuple[str, bool]]:
        default = params.get("binary_data_output", False)
        if not isinstance(default, bool):
            raise InvalidInput('parameters "binary_data_output" must be true or false')
        if requested is None:
            return self._all_binary if default else self._all_json
        if not isinstance(requested, list):
            raise InvalidInput('"outputs" must be a list like [{"name": "..."}]')
        out = []
        for i, item in enumerate(requested):
            name = item.get("name") if isinstance(item, dict) else None
            if name not in self.output_names:
                raise InvalidInput(
                    f"outputs[{i}] names no output of the model "
                    f"({contract.quote(name)}); the outputs are "
                    f"{contract.quote(list(self.output_names))}"
                )
            binary = _parameters(item.get("parameters"), f"outputs[{i}]").get(
                "binary_data", default
            )
            if not isinstance(binary, bool):
                raise InvalidInput(f'outputs[{i}] parameters "binary_data" must be true or false')
            out.append((name, binary))
        return out

    def _tensor(
        self,
        tensor: dict[str, Any],
        binary: memoryview | bytes,
        offset: int,
        seen: Mapping[str, np.ndarray],
    ) -> tuple[tuple[str, np.ndarray], int]:
        """One input as (name, array) and how many binary bytes it used."""
        name = tensor.get("name")
        spec = self.specs.get(name) if isinstance(name, str) else None
        if spec is None or name is None:
            raise InvalidInput(
                f"input {contract.quote(name)} is not an input of the model; the inputs are "
                f"{contract.quote(list(self.specs))}"
            )
        where = self._where[name]
        if name in seen:
            raise InvalidInput(f"{where} is given twice")
        unknown = tensor.keys() - _TENSOR_FIELDS
        if unknown:
            raise InvalidInput(f"{where} has unknown fields {contract.quote(sorted(unknown))}")
        want = self._datatype[name]
        if tensor.get("datatype") != want:
            raise InvalidInput(
                f"{where} has datatype {contract.quote(tensor.get('datatype'), 40)}; "
                f"the model takes {want}"
            )
        shape = self._shape(tensor.get("shape"), spec, where)
        count = math.prod(shape)
        params = _parameters(tensor.get("parameters"), where)
        size = params.get("binary_data_size")
        if size is not None:
            if "data" in tensor:
                raise InvalidTensor(f"{where} has both data and binary_data_size; send one")
            if type(size) is not int or size < 0:
                raise InvalidTensor(f"{where}: binary_data_size must be a whole number of bytes")
            if offset + size > len(binary):
                raise InvalidTensor(
                    f"{where} has binary_data_size {size} but only {len(binary) - offset} "
                    "bytes of binary data are left in the body"
                )
            arr = _from_binary(binary[offset : offset + size], want, shape, count, where)
            return (name, arr), size
        if "data" not in tensor:
            raise InvalidInput(f'{where} has no "data" and no binary_data_size parameter')
        return (name, _from_json(tensor["data"], spec, shape, count, where)), 0

    def _shape(self, shape: Any, spec: TensorSpec, where: str) -> list[int]:
        # Loops, not all()/any() over generators: a few µs less on every request.
        if type(shape) is not list or not shape:
            raise InvalidInput(f"{where}: shape must be a list of whole numbers, like [1, 64]")
        for d in shape:
            if type(d) is not int or d < 0:
                raise InvalidInput(f"{where}: shape must be a list of whole numbers, like [1, 64]")
        wanted = self._shapes[spec.name]
        fits = len(shape) == len(wanted)
        if fits:
            for w, d in zip(wanted[1:], shape[1:], strict=True):
                if w >= 0 and w != d:
                    fits = False
                    break
        if not fits:
            raise InvalidInput(
                f"{where} has shape {contract.quote(shape, 80)}; the model takes {wanted} "
                "(-1: any size)"
            )
        if shape[0] == 0:
            raise InvalidInput(f"{where} is an empty batch; send at least one row")
        contract.check_batch(where, shape[0], self._max_batch)
        return shape

    def encode(
        self,
        outputs: list[tuple[str, bool]],
        batch: int,
        request_id: str | None,
        results: list[np.ndarray],
    ) -> Answer:
        """The `infer` answer to the `outputs` asked for, from the run's `results` (in
        output_names order): JSON, or a JSON header and binary outputs after it."""
        tensors: list[dict[str, Any]] = []
        chunks: list[bytes] = []
        index = self._output_index
        for name, binary in outputs:
            value = results[index[name]]
            dtype = value.dtype
            item: dict[str, Any] = {
                "name": name,
                "datatype": _BY_DTYPE.get(dtype) or datatype(dtype.name),
                "shape": list(value.shape),
            }
            if binary:
                # Numbers in little-endian order already (this machine's) go as they are.
                raw = value.tobytes() if dtype in _BY_DTYPE and _IS_LITTLE else _to_binary(value)
                item["parameters"] = {"binary_data_size": len(raw)}
                chunks.append(raw)
            elif value.dtype.kind in "fiub":
                item["data"] = value.reshape(-1)
            else:
                item["data"] = value.reshape(-1).tolist()
            tensors.append(item)
        out: dict[str, Any] = dict(self._model_id)
        if request_id is not None:
            out["id"] = request_id
        out["outputs"] = tensors
        header = orjson.dumps(out, option=_DUMPS)
        if not chunks:
            contract.check_response_size(len(header), batch)
            return Answer(200, header, self._json, batch=batch)
        body = b"".join([header, *chunks])
        contract.check_response_size(contract.base64_size(len(body)), batch)
        headers = {**self._binary, HEADER_LENGTH: str(len(header))}
        return Answer(200, body, headers, binary=True, batch=batch)


def _fast_input(
    inputs: tuple[TensorSpec, ...], max_batch: int
) -> tuple[str, np.dtype[Any], list[int], str, int] | None:
    """(name, wire dtype, row shape, datatype, values per row) of a model `infer_fast` serves:
    one float input whose dimensions after the batch are fixed, on a little-endian machine
    (the wire's order, so the bytes need no swap)."""
    if len(inputs) != 1 or sys.byteorder != "little" or max_batch < 1:
        return None
    spec = inputs[0]
    want = datatype(spec.dtype)
    tail = spec.shape[1:]
    if want not in ("FP32", "FP64") or not spec.shape or not all(type(d) is int for d in tail):
        return None
    row = [int(d) for d in tail if d is not None]
    return spec.name, WIRE[want], row, want, math.prod(row)


def _parameters(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f'{where}: "parameters" must be an object')
    return value


def _from_binary(
    chunk: memoryview | bytes, want: str, shape: list[int], count: int, where: str
) -> np.ndarray:
    if want == "BYTES":
        return _bytes_elements(chunk, count, where).reshape(shape)
    dtype = WIRE[want]
    if len(chunk) != count * dtype.itemsize:
        raise InvalidTensor(
            f"{where} has binary_data_size {len(chunk)}; shape {shape} of {want} is "
            f"{count * dtype.itemsize} bytes ({count} × {dtype.itemsize})"
        )
    # A copy in native byte order: onnxruntime may keep the buffer, and the body's bytes are
    # not ours to pin.
    arr = np.frombuffer(chunk, dtype=dtype).astype(_NATIVE[want], copy=True)
    arr = arr.reshape(shape)
    if arr.dtype.kind == "f":
        # NaN and ±inf refused as in JSON. x·x is finite when every value is and none is huge
        # (float32: |x| < ~1e19); only otherwise does the exact check run, which decides.
        if not math.isfinite(_VDOT(arr, arr)):
            validation.cast(arr, _NAMES[want], where)
    elif arr.dtype.kind == "b" and arr.size and arr.view(np.uint8).max() > 1:
        raise InvalidTensor(f"{where}: BOOL bytes must be 0 or 1")
    return arr


def _bytes_elements(chunk: memoryview | bytes, count: int, where: str) -> np.ndarray:
    """BYTES binary data: each element a 4-byte little-endian length, then that many bytes."""
    raw = bytes(chunk)
    out: list[str] = []
    pos = 0
    for _ in range(count):
        if pos + 4 > len(raw):
            raise InvalidTensor(f"{where}: BYTES data ends before its {count} elements")
        n = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if n > 4 * contract.MAX_STRING_CHARS or pos + n > len(raw):
            raise InvalidTensor(f"{where}: a BYTES element's length {n} is past the data or limit")
        try:
            text = raw[pos : pos + n].decode()
        except UnicodeDecodeError:
            raise InvalidInput(f"{where}: a BYTES element is not UTF-8 text") from None
        if len(text) > contract.MAX_STRING_CHARS:
            raise InvalidInput(
                f"{where} has a string of {len(text)} characters; the limit is "
                f"{contract.MAX_STRING_CHARS}"
            )
        out.append(text)
        pos += n
    if pos != len(raw):
        raise InvalidTensor(
            f"{where} has binary_data_size {len(raw)}; its {count} BYTES elements take {pos}"
        )
    return np.array(out, dtype=object)


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
            f"{where}: nested data has shape {contract.quote(list(arr.shape), 80)}, "
            f"not the tensor's shape {shape}; nest it by shape or send it flat"
        )
    arr = arr.reshape(shape)
    kind = arr.dtype.kind
    if spec.dtype == "str":
        cells = np.asarray(data, dtype=object).reshape(shape)
        if not all(type(v) is str for v in cells.flat):
            raise InvalidInput(f"{where} expects strings (BYTES)")
        if kind == "U" and arr.dtype.itemsize // 4 > contract.MAX_STRING_CHARS:
            raise InvalidInput(
                f"{where} has a string longer than {contract.MAX_STRING_CHARS} characters"
            )
        return cells
    if kind in "USO":
        raise InvalidInput(f"{where} expects numbers ({datatype(spec.dtype)}); got other values")
    if kind == "b" and spec.dtype != "bool":
        raise InvalidInput(f"{where} expects numbers ({datatype(spec.dtype)}); got booleans")
    return validation.cast(arr, spec.dtype, where)


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
