"""JSON Schemas of the real request and response, derived from the model's manifest."""

from __future__ import annotations

import copy
from typing import Any

from functions.predict.body import BINARY, JSON
from functions.predict.errors import ERROR_SCHEMA, OIP_ERROR_SCHEMA, PREDICT_ERRORS
from functions.predict.exceptions import HTTPError
from functions.predict.forms.arrays import dtype_range, is_column
from functions.predict.limits import MAX_STRING_CHARS
from model_store.manifest import Manifest, TensorSpec

TITLE = "Slipway prediction API"
_JSON_TYPES = {"f": "number", "i": "integer", "u": "integer", "b": "boolean"}


def _element(dtype: str) -> dict[str, Any]:
    if dtype == "str":
        return {"type": "string", "maxLength": MAX_STRING_CHARS}
    kind = "b" if dtype == "bool" else ("f" if dtype.startswith("float") else "i")
    schema: dict[str, Any] = {"type": _JSON_TYPES[kind]}
    limits = dtype_range(dtype)  # what validation accepts, stated
    if limits is not None:
        schema["minimum"], schema["maximum"] = limits
    return schema


def row_schema(spec: TensorSpec) -> dict[str, Any]:
    """One row of an input: its shape without the batch dimension."""
    schema: dict[str, Any] = _element(spec.dtype)
    for dim in reversed(spec.shape[1:]):
        schema = {"type": "array", "items": schema}
        if isinstance(dim, int):
            schema["minItems"] = schema["maxItems"] = dim
    return schema


def tensor_schema(spec: TensorSpec, *, max_batch: int | None = None) -> dict[str, Any]:
    batch: dict[str, Any] = {"type": "array", "items": row_schema(spec), "minItems": 1}
    if max_batch:
        batch["maxItems"] = max_batch
    return batch


def request_schema(manifest: Manifest, max_batch: int) -> dict[str, Any]:
    if len(manifest.inputs) == 1:
        inputs = tensor_schema(manifest.inputs[0], max_batch=max_batch)
    else:
        inputs = {
            "type": "object",
            "properties": {s.name: tensor_schema(s, max_batch=max_batch) for s in manifest.inputs},
            "required": [s.name for s in manifest.inputs],
            "additionalProperties": False,
        }
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"inputs": inputs, "instances": instances_schema(manifest, max_batch)},
        # One form or the other (validation refuses both at once).
        "oneOf": [{"required": ["inputs"]}, {"required": ["instances"]}],
        "additionalProperties": False,
    }
    if manifest.example:
        schema["example"] = manifest.example
    return schema


def instances_schema(manifest: Manifest, max_batch: int) -> dict[str, Any]:
    """`{"instances": [...]}`: row records by field; a column takes one value per row, with
    its own type (a DataFrame model's columns); a one-input model also takes bare rows."""
    record = {
        "type": "object",
        "properties": {
            s.name: _element(s.dtype) if is_column(s) else row_schema(s) for s in manifest.inputs
        },
        "required": [s.name for s in manifest.inputs],
        "additionalProperties": False,
    }
    only = manifest.inputs[0] if len(manifest.inputs) == 1 else None
    item: dict[str, Any] = record
    if only is not None and not is_column(only):
        item = {"anyOf": [row_schema(only), record]}
    return {"type": "array", "items": item, "minItems": 1, "maxItems": max_batch}


def response_schema(manifest: Manifest) -> dict[str, Any]:
    outputs = {s.name: tensor_schema(s) for s in manifest.outputs}
    if manifest.kind == "classifier" and "label" not in outputs:
        outputs["label"] = {"type": "array", "items": {}}
    return {
        "type": "object",
        "properties": {
            "outputs": {"type": "object", "properties": outputs, "required": sorted(outputs)},
            "model": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "version": {"type": "integer"}},
            },
        },
        "required": ["outputs", "model"],
    }


def error_responses() -> dict[int, dict[str, Any]]:
    """One response per status POST /predict refuses with, naming each code it can carry."""
    by_status: dict[int, list[type[HTTPError]]] = {}
    for cls in PREDICT_ERRORS:
        by_status.setdefault(cls.status, []).append(cls)
    responses: dict[int, dict[str, Any]] = {}
    for status, classes in sorted(by_status.items()):
        schema = copy.deepcopy(ERROR_SCHEMA)
        fields = schema["properties"]["error"]["properties"]
        fields["status"]["enum"] = [status]
        fields["code"]["enum"] = [cls.code for cls in classes]
        responses[status] = {
            "description": "; ".join(f"`{cls.code}`: {_when(cls)}" for cls in classes),
            "content": {JSON: {"schema": schema}},
        }
    return responses


def _when(cls: type[HTTPError]) -> str:
    """'the body is not valid JSON' from the docstring 'Raise when the body is not valid JSON.'"""
    first = (cls.__doc__ or cls.code).strip().splitlines()[0]
    return first.removeprefix("Raise when ").rstrip(".")


def predict_openapi(manifest: Manifest, max_batch: int) -> dict[str, Any]:
    """`openapi_extra` and `responses` for the POST /predict route."""
    return {
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": request_schema(manifest, max_batch)}},
            }
        },
        "responses": {
            200: {
                "description": "Predictions for every row, in order",
                "content": {"application/json": {"schema": response_schema(manifest)}},
            },
            **error_responses(),
        },
    }


# -- the Open Inference Protocol (oip/) ----------------------------------------------------

OIP_TAG = "Open Inference Protocol (v2)"
_BINARY_NOTE = (
    "The binary tensor data extension (`binary_tensor_data`) is also accepted: send the JSON "
    "header, then each input's raw little-endian bytes, with `Inference-Header-Content-Length` "
    "giving the header's length and `parameters.binary_data_size` each input's bytes; ask for "
    "binary outputs with `parameters.binary_data` per output or `binary_data_output` for all. "
    "The schema below describes the JSON form."
)


def _oip_error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": copy.deepcopy(OIP_ERROR_SCHEMA)}},
    }


def _oip_tensor(spec: TensorSpec, datatype: str, max_batch: int) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "type": "array",
        "items": {"type": "integer", "minimum": 0},
        "minItems": len(spec.shape),
        "maxItems": len(spec.shape),
    }
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": [spec.name]},
            "shape": shape,
            "datatype": {"type": "string", "enum": [datatype]},
            "parameters": {"type": "object"},
            "data": {"type": "array", "description": "flat, or nested by shape"},
        },
        "required": ["name", "shape", "datatype", "data"],
        "additionalProperties": False,
    }


def oip_openapi(manifest: Manifest, max_batch: int, datatypes: dict[str, str]) -> dict[str, Any]:
    """`openapi_extra`, `responses` and descriptions for each OIP operation, by kind."""
    metadata_tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["name", "datatype", "shape"],
    }
    output_tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "parameters": {"type": "object"},
            "data": {"type": "array"},
        },
        "required": ["name", "datatype", "shape"],
    }
    outputs = [s.name for s in manifest.outputs]
    request = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_output": {"type": "boolean"}},
            },
            "inputs": {
                "type": "array",
                "items": {
                    "anyOf": [
                        _oip_tensor(s, datatypes[s.dtype], max_batch) for s in manifest.inputs
                    ]
                },
                "minItems": len(manifest.inputs),
                "maxItems": len(manifest.inputs),
            },
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "enum": outputs},
                        "parameters": {
                            "type": "object",
                            "properties": {"binary_data": {"type": "boolean"}},
                        },
                    },
                    "required": ["name"],
                },
            },
        },
        "required": ["inputs"],
        "additionalProperties": False,
    }
    answer = {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": output_tensor},
        },
        "required": ["model_name", "model_version", "outputs"],
    }
    not_found = _oip_error("`model_not_found`: no such model or version here")
    infer_errors = {
        400: _oip_error(
            "the body is not JSON, or binary tensor data does not add up "
            "(`Inference-Header-Content-Length`, `binary_data_size` against shape × datatype)"
        ),
        404: not_found,
        413: _oip_error("the body, the batch or the answer is over its limit"),
        415: _oip_error(f"a Content-Type other than {JSON} or {BINARY}"),
        422: _oip_error(
            "the tensors do not fit the model (names, datatypes, shapes, values), or the model "
            "computes NaN or infinity from them"
        ),
    }

    def ok(schema: dict[str, Any], description: str) -> dict[int, dict[str, Any]]:
        return {200: {"description": description, "content": {JSON: {"schema": schema}}}}

    return {
        "server": {"responses": ok({"type": "object"}, "name, version, extensions")},
        "health": {"responses": ok({"type": "object"}, "live or ready")},
        "metadata": {
            "responses": {
                **ok(
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "versions": {"type": "array", "items": {"type": "string"}},
                            "platform": {"type": "string"},
                            "inputs": {"type": "array", "items": metadata_tensor},
                            "outputs": {"type": "array", "items": metadata_tensor},
                        },
                        "required": ["name", "platform", "inputs", "outputs"],
                    },
                    "the model's inputs and outputs, with datatypes and shapes (-1: any size)",
                ),
                404: not_found,
            }
        },
        "ready": {"responses": {**ok({"type": "object"}, "the model is ready"), 404: not_found}},
        "infer": {
            "description": _BINARY_NOTE,
            "openapi_extra": {
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": request}},
                }
            },
            "responses": {
                200: {
                    "description": "the outputs; binary ones after the JSON header",
                    "content": {
                        JSON: {"schema": answer},
                        BINARY: {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                **infer_errors,
            },
        },
    }
