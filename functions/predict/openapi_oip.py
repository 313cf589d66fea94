"""The Open Inference Protocol's operations in the OpenAPI document (oip/), derived from the
model's manifest: a model with processing shows one BYTES input, as oip/reader.py takes it."""

from __future__ import annotations

import copy
from typing import Any

from functions.predict import openapi_processed as processed
from functions.predict.body import BINARY, JSON
from functions.predict.errors import OIP_ERROR_SCHEMA
from functions.predict.processing import IMAGE, OIP_INPUTS
from model_store.manifest import Manifest, TensorSpec

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


def oip_inputs(manifest: Manifest) -> tuple[TensorSpec, ...]:
    """The inputs the protocol shows: a model with processing takes its images or texts as
    one BYTES input (oip/reader.py), any other its tensors."""
    if not manifest.processing:
        return manifest.inputs
    kind, _ = processed.kind_of(manifest)
    return (TensorSpec(OIP_INPUTS[kind], (None,), "str"),)


def oip_openapi(
    manifest: Manifest,
    max_batch: int,
    datatypes: dict[str, str],
    extra_outputs: tuple[TensorSpec, ...] = (),
) -> dict[str, Any]:
    """`openapi_extra`, `responses` and descriptions for each OIP operation, by kind;
    `extra_outputs` are the processing's outputs after the model's (an embedding's)."""
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
    outputs = [s.name for s in (*manifest.outputs, *extra_outputs)]
    inputs = oip_inputs(manifest)
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
                "items": {"anyOf": [_oip_tensor(s, datatypes[s.dtype], max_batch) for s in inputs]},
                "minItems": len(inputs),
                "maxItems": len(inputs),
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

    description = _BINARY_NOTE
    if manifest.processing:
        kind, _ = processed.kind_of(manifest)
        description += (
            f" This model takes its {kind}s as one BYTES input `{OIP_INPUTS[kind]}`, one element "
            "each: "
            + (
                "in JSON an image file as base64 text, in binary data its bytes as they are"
                if kind == IMAGE
                else "UTF-8 text"
            )
            + "; the outputs are the model's tensors."
        )
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
            "description": description,
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
