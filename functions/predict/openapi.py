"""JSON Schemas of the real request and response, derived from the model's manifest."""

from __future__ import annotations

from typing import Any

from model_store.manifest import Manifest, TensorSpec

_JSON_TYPES = {"f": "number", "i": "integer", "u": "integer", "b": "boolean"}


def _element(dtype: str) -> dict[str, Any]:
    if dtype == "str":
        return {"type": "string"}
    kind = "b" if dtype == "bool" else ("f" if dtype.startswith("float") else "i")
    return {"type": _JSON_TYPES[kind]}


def tensor_schema(spec: TensorSpec, *, max_batch: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = _element(spec.dtype)
    for dim in reversed(spec.shape[1:]):
        schema = {"type": "array", "items": schema}
        if isinstance(dim, int):
            schema["minItems"] = schema["maxItems"] = dim
    batch: dict[str, Any] = {"type": "array", "items": schema, "minItems": 1}
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
        "properties": {"inputs": inputs},
        "required": ["inputs"],
        "additionalProperties": False,
    }
    if manifest.example:
        schema["example"] = manifest.example
    return schema


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


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "message": {"type": "string"},
            },
            "required": ["status", "code", "message"],
        }
    },
    "required": ["error"],
}


def predict_openapi(manifest: Manifest, max_batch: int) -> dict[str, Any]:
    """`openapi_extra` and `responses` for the POST /predict route."""

    def error(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": ERROR_SCHEMA}},
        }

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
            400: error("Malformed JSON or base64"),
            413: error("Body, batch or response over its limit"),
            415: error("Content-Type is not application/json"),
            422: error("JSON that does not match the model's inputs"),
        },
    }
