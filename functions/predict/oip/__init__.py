"""The Open Inference Protocol (KServe "v2", Triton's HTTP/REST API), from the model's manifest.

    GET  /v2                                     server metadata
    GET  /v2/health/live, /v2/health/ready       liveness, readiness
    GET  /v2/models/{name}[/versions/{version}]  model metadata: inputs, outputs, datatypes, shapes
    GET  /v2/models/{name}[/versions/{version}]/ready
    POST /v2/models/{name}[/versions/{version}]/infer

`infer` takes JSON tensors (`data` flat or nested) and the binary tensor data extension as
tritonclient sends and reads it: an `Inference-Header-Content-Length` header, the JSON header,
then each input's raw little-endian bytes (`parameters.binary_data_size`); outputs come back
binary when asked (`binary_data` per output, or `binary_data_output` for all of them), with the
same header on the answer. Errors are `{"error": "..."}` (errors.oip_error_body).

routes.py answers the paths; reader.py reads the tensors of a request, writer.py the answer's.
This module holds the protocol's names, shared by both and by the OpenAPI document.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

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
# The wire's byte order is little-endian: on such a machine numbers go as they are.
IS_LITTLE = sys.byteorder == "little"
# A dtype whose bytes are little-endian already ("=" on a little-endian machine, "|" for one byte).
LITTLE = ("<", "|") + (("=",) if IS_LITTLE else ())


def datatype(dtype: str) -> str:
    return DATATYPES.get(dtype, dtype.upper())


def wire_shape(spec: TensorSpec) -> list[int]:
    """The protocol's shape: -1 for a free dimension."""
    return [d if isinstance(d, int) else -1 for d in spec.shape]


def tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "datatype": datatype(spec.dtype), "shape": wire_shape(spec)}
