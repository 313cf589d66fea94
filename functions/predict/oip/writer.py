"""The Open Inference Protocol's `infer` answer: the run's outputs as JSON, or as a JSON header
and binary data after it (the binary tensor data extension), refusing outputs that are not
finite.

The usual answer, every output binary and no id (tritonclient's request), is the cheap case of
the one writer: its header is written from a template, the same bytes orjson gives for the
general answer's dicts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson

from functions.predict import limits
from functions.predict.body import BINARY, JSON
from functions.predict.exchange import Answer
from functions.predict.forms.arrays import VDOT
from functions.predict.limits import base64_size
from functions.predict.limits import check_response_size as check_size
from functions.predict.oip import DATATYPES, HEADER_LENGTH, IS_LITTLE, LITTLE, datatype
from functions.predict.service import PredictionService, check_output

# An output's numpy dtype -> its datatype (dtype.name costs microseconds a call).
_BY_DTYPE = {np.dtype(name): dt for name, dt in DATATYPES.items() if dt != "BYTES"}
_DUMPS = orjson.OPT_SERIALIZE_NUMPY
NULL = b"null"  # how orjson writes NaN and ±inf


class AnswerWriter:
    """Writes one model's `infer` answers; what each output needs, built once."""

    def __init__(self, service: PredictionService, all_binary: list[tuple[str, bool]]) -> None:
        manifest = service.manifest
        self.all_binary = all_binary  # RequestReader's: every output binary, none named
        self.output_names = tuple(name for name, _ in all_binary)  # the processing's too
        self._output_index = {name: i for i, name in enumerate(self.output_names)}
        self._json = {**service.model_headers, "content-type": JSON}
        self._binary = {**service.model_headers, "content-type": BINARY}
        self.model_id = {"model_name": manifest.name, "model_version": str(manifest.version)}
        # The all-binary answer's header pieces: the model's id, each output's name as JSON.
        self._head = orjson.dumps(self.model_id).decode()[:-1] + ',"outputs":['
        self._output_json = [orjson.dumps(n).decode() for n in self.output_names]

    def encode(
        self,
        outputs: list[tuple[str, bool]],
        batch: int,
        request_id: str | None,
        results: list[np.ndarray],
    ) -> Answer:
        """The `infer` answer to the `outputs` asked for, from the run's `results` (in
        output_names order), refusing outputs that are not finite (service.check_output)."""
        if outputs is self.all_binary and request_id is None and IS_LITTLE:
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
                raw = value.tobytes() if dtype in _BY_DTYPE and IS_LITTLE else _to_binary(value)
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


def _to_binary(value: np.ndarray) -> bytes:
    if value.dtype.kind in "OUS":
        parts = []
        for item in value.reshape(-1).tolist():
            raw = item if isinstance(item, bytes) else str(item).encode()
            parts.append(len(raw).to_bytes(4, "little"))
            parts.append(raw)
        return b"".join(parts)
    if value.dtype.byteorder in LITTLE:
        return value.tobytes()
    return value.astype(value.dtype.newbyteorder("<")).tobytes()
