"""The Open Inference Protocol's `infer` request read into the model's feeds: the JSON header,
then each input's binary data (the binary tensor data extension) or its JSON `data`.

The usual request, tritonclient's binary tensors, is the cheap case of the one reader: its
tensor is read in place (a view of the body, which onnxruntime reads during the run and does
not keep). A model with processing takes its content (images, texts) as one BYTES input,
whose elements become its items and go through the model's processing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson

from functions.predict.exceptions import InvalidInput, InvalidTensor
from functions.predict.forms.jsonbody import parse_json
from functions.predict.limits import MAX_STRING_CHARS, check_batch
from functions.predict.messages import quote
from functions.predict.oip import datatype, wire_shape
from functions.predict.oip.elements import base64_image, from_binary, from_json
from functions.predict.processing import IMAGE
from functions.predict.service import PredictionService
from model_store.manifest import TensorSpec

_FIELDS = frozenset({"id", "parameters", "inputs", "outputs"})
_TENSOR_FIELDS = frozenset({"name", "shape", "datatype", "parameters", "data"})
_NO_PARAMETERS: Mapping[str, Any] = {}


# A parsed `infer` request: the feeds for onnxruntime, the outputs asked for ((name, binary)
# in order), the batch size and the request's id. A plain tuple: a NamedTuple's __new__ is a
# Python function, on every request.
InferRequest = tuple[dict[str, np.ndarray], list[tuple[str, bool]], int, str | None]


class RequestReader:
    """Reads one model's `infer` requests; what each input needs, built once."""

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
        # The outputs: the model's, then its processing's own (an embedding's pooled vectors,
        # Protocol.infer appends them to the run's results).
        extras = self.processing.extras if self.processing is not None else None
        self.extra_outputs = extras.extra_outputs if extras is not None else ()
        self.output_names = (*service.model.output_names, *(s.name for s in self.extra_outputs))
        self._output_index = {name: i for i, name in enumerate(self.output_names)}
        self._max_batch = service.settings.max_batch
        # The outputs asked for when none are named: all as JSON, or all binary (the list
        # itself tells the writer to use its template: AnswerWriter.all_binary).
        self.all_json = [(name, False) for name in self.output_names]
        self.all_binary = [(name, True) for name in self.output_names]

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
            outputs = self.all_binary  # tritonclient's request when no outputs are named
        else:
            outputs = self._outputs(requested, params or _NO_PARAMETERS)
        return feeds, outputs, batch, request_id

    def _outputs(self, requested: Any, params: Mapping[str, Any]) -> list[tuple[str, bool]]:
        default = params.get("binary_data_output", False)
        if type(default) is not bool:
            raise InvalidInput('parameters "binary_data_output" must be true or false')
        if requested is None:
            return self.all_binary if default else self.all_json
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
            feeds[name] = from_binary(raw, offset, size, want, shape, count, where, elements)
            return size
        if "data" not in tensor:
            raise InvalidInput(f'{where} has no "data" and no binary_data_size parameter')
        elements = self._elements[name]
        image = elements == IMAGE
        # A tabular string column's cap; a text model's texts have its own limit
        # (SLIPWAY_MAX_TEXT_CHARS, when it reads them), images only the body's.
        cap = MAX_STRING_CHARS if elements == "str" else None
        arr = from_json(tensor["data"], spec, shape, count, where, cap)
        if image:  # images in JSON: base64 text, as OVMS takes them
            arr = np.array(
                [base64_image(v, f"{where} data[{i}]") for i, v in enumerate(arr.reshape(-1))],
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


def _parameters(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise InvalidInput(f'{where}: "parameters" must be an object')
    return value
