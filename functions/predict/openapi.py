"""JSON Schemas of the real request and response, derived from the model's manifest."""

from __future__ import annotations

import copy
from typing import Any

from functions.predict import openapi_processed as processed
from functions.predict.body import JSON
from functions.predict.config import Settings
from functions.predict.errors import ERROR_SCHEMA, PREDICT_ERRORS
from functions.predict.exceptions import HTTPError
from functions.predict.forms.arrays import dtype_range, is_column
from functions.predict.limits import MAX_STRING_CHARS
from functions.predict.processing import IMAGE
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


def error_responses(
    classes: tuple[type[HTTPError], ...] = PREDICT_ERRORS,
) -> dict[int, dict[str, Any]]:
    """One response per status POST /predict refuses with, naming each code it can carry."""
    by_status: dict[int, list[type[HTTPError]]] = {}
    for cls in classes:
        by_status.setdefault(cls.status, []).append(cls)
    responses: dict[int, dict[str, Any]] = {}
    for status, same in sorted(by_status.items()):
        schema = copy.deepcopy(ERROR_SCHEMA)
        fields = schema["properties"]["error"]["properties"]
        fields["status"]["enum"] = [status]
        fields["code"]["enum"] = [cls.code for cls in same]
        responses[status] = {
            "description": "; ".join(f"`{cls.code}`: {_when(cls)}" for cls in same),
            "content": {JSON: {"schema": schema}},
        }
    return responses


def _when(cls: type[HTTPError]) -> str:
    """'the body is not valid JSON' from the docstring 'Raise when the body is not valid JSON.'"""
    first = (cls.__doc__ or cls.code).strip().splitlines()[0]
    return first.removeprefix("Raise when ").rstrip(".")


def predict_openapi(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    """`summary`, `openapi_extra` and `responses` for the POST /predict route."""
    if manifest.processing:
        return _processed(manifest, settings)
    max_batch = settings.max_batch
    return {
        "summary": "Predict a batch of rows",
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


def _processed(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    """A model with processing: images or texts in, the task's answer (openapi_processed)."""
    kind, _ = processed.kind_of(manifest)
    what = "images" if kind == IMAGE else "texts"
    answer = processed.answer_schema(manifest, response_schema(manifest))
    return {
        "summary": f"Predict from {what}",
        "openapi_extra": {"requestBody": processed.request_body(manifest, settings)},
        "responses": {
            200: {
                "description": processed.answer_description(manifest),
                "content": {JSON: {"schema": answer}},
            },
            **error_responses(PREDICT_ERRORS + processed.ERRORS[kind]),
        },
    }
