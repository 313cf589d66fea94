"""POST /predict's document for a model with processing (images or texts in, the task's
answer out), from its manifest: the request forms forms/items.py takes and the answers
Processing.body gives, as Hugging Face's endpoints shape them.

Image model: one image as the body (`image/*`, or `application/octet-stream`, or no
Content-Type), image files as `multipart/form-data`, or JSON: Hugging Face's
`{"inputs": base64 | [base64, …], "parameters": {…}}` and TF Serving's
`{"instances": [{"b64": …} | {"image": {"b64": …}}, …]}`. Text model: JSON (`inputs` a text or
a list, or `instances`) and `text/plain`. Answers: a classifier's `[{"label", "score"}]` per
item (one image alone: that list; one text alone: in a list, as InferenceClient reads it), an
embedding's vector per item (one text alone: the vector), or with `"parameters": {"raw": true}`
the model's output tensors.
"""

from __future__ import annotations

from typing import Any

from functions.predict.body import BINARY, JSON
from functions.predict.config import Settings
from functions.predict.exceptions import (
    HTTPError,
    ImageTooLarge,
    InvalidImage,
    InvalidMultipart,
    InvalidText,
    TextTooLong,
    UnsupportedImage,
)
from functions.predict.forms.items import PARAMETERS, TOP_LEVEL
from functions.predict.media import SUPPORTED
from functions.predict.processing import CLASSIFICATION, IMAGE, OIP_INPUTS, TEXT
from functions.predict.processing.labels import FUNCTIONS
from model_store.manifest import Manifest

MULTIPART = "multipart/form-data"
TEXT_PLAIN = "text/plain"
# The errors a model with processing adds to the usual ones (errors.PREDICT_ERRORS).
ERRORS: dict[str, tuple[type[HTTPError], ...]] = {
    IMAGE: (ImageTooLarge, UnsupportedImage, InvalidImage, InvalidMultipart),
    TEXT: (TextTooLong, InvalidText),
}
_BINARY = {"type": "string", "format": "binary"}
_IMAGE_TEXT = {
    "type": "string",
    "contentEncoding": "base64",
    "description": f"an image file ({SUPPORTED}) as base64 text",
}


def kind_of(manifest: Manifest) -> tuple[str, str]:
    """(input kind, output task) of a model with processing."""
    spec = manifest.processing or {}
    return str(spec["input"]["kind"]), str(spec["output"]["task"])


def limit(manifest: Manifest, settings: Settings) -> int:
    """Items in one request, at most."""
    kind, _ = kind_of(manifest)
    per_kind = settings.max_images if kind == IMAGE else settings.max_texts
    return min(per_kind, settings.max_batch)


# Each request parameter (forms/items.PARAMETERS) as documented, and which models it is for.
SCHEMAS: dict[str, dict[str, Any]] = {
    "raw": {
        "type": "boolean",
        "description": "true: the model's output tensors instead of the task's answer",
    },
    "top_k": {"type": "integer", "minimum": 1, "description": "labels per item"},
    "function_to_apply": {"type": "string", "enum": list(FUNCTIONS)},
    "truncation": {
        "type": "boolean",
        "description": "false: a text longer than the model reads is refused (422)",
    },
    "truncate": {"type": "boolean", "description": "as truncation"},
    "truncation_direction": {"type": "string", "enum": ["right", "left"]},
    "normalize": {"type": "boolean"},
    "prompt_name": {"type": "string"},
    "dimensions": {
        "type": "integer",
        "minimum": 1,
        "description": "an embedding's leading dimensions only (a Matryoshka model's), then "
        "normalised as the model does",
    },
    "encoding_format": {
        "type": "string",
        "enum": ["float"],
        "description": "embeddings as JSON numbers (the one format served)",
    },
}
_CLASSIFICATION_ONLY = ("top_k", "function_to_apply")


def parameters(kind: str, task: str) -> dict[str, Any]:
    """The `parameters` object for a model of `kind` and `task`: the ones that apply."""
    props = {
        name: SCHEMAS.get(name, {})
        for name in sorted(PARAMETERS)
        if (name not in _CLASSIFICATION_ONLY or task == CLASSIFICATION)
        and (name not in TOP_LEVEL or kind == TEXT)
    }
    return {"type": "object", "properties": props, "additionalProperties": False}


def request_body(manifest: Manifest, settings: Settings) -> dict[str, Any]:
    kind, task = kind_of(manifest)
    most = limit(manifest, settings)
    one: dict[str, Any] = _IMAGE_TEXT if kind == IMAGE else {"type": "string"}
    named = OIP_INPUTS[kind]
    instance: dict[str, Any]
    if kind == IMAGE:
        b64 = {
            "type": "object",
            "properties": {"b64": _IMAGE_TEXT},
            "required": ["b64"],
            "additionalProperties": False,
        }
        instance = {"anyOf": [b64, _named(named, b64)]}
    else:
        instance = {"anyOf": [one, _named(named, one)]}
    params = parameters(kind, task)
    # Text embeddings' clients (text-embeddings-inference) send their parameters at the top.
    top = {k: v for k, v in params["properties"].items() if k in TOP_LEVEL}
    hugging_face = {
        "type": "object",
        "title": "Hugging Face",
        "properties": {
            "inputs": {
                "anyOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": most}]
            },
            "parameters": params,
            **top,
        },
        "required": ["inputs"],
        "additionalProperties": False,
    }
    tf_serving = {
        "type": "object",
        "title": "TF Serving",
        "properties": {
            "instances": {"type": "array", "items": instance, "minItems": 1, "maxItems": most},
            "parameters": params,
        },
        "required": ["instances"],
        "additionalProperties": False,
    }
    json_media: dict[str, Any] = {"schema": {"oneOf": [hugging_face, tf_serving]}}
    if manifest.example:
        json_media["example"] = manifest.example
    if kind != IMAGE:
        return {
            "required": True,
            "description": "Texts as JSON (Hugging Face's `inputs`, or TF Serving's "
            f"`instances`, at most {most}), or one text as the body (`text/plain`).",
            "content": {JSON: json_media, TEXT_PLAIN: {"schema": {"type": "string"}}},
        }
    files = {"type": "array", "items": _BINARY, "minItems": 1, "maxItems": most}
    return {
        "required": True,
        "description": f"One image file ({SUPPORTED}) as the body, with its own Content-Type, "
        f"`{BINARY}` or none (the format is read from the bytes); image files as a form (every "
        f"part with a filename is one, at most {most}); or JSON: Hugging Face's `inputs` "
        "(base64, or a list of them) with `parameters`, or TF Serving's `instances` "
        f'(`{{"b64": …}}`, or `{{"{named}": {{"b64": …}}}}`).',
        "content": {
            "image/*": {"schema": _BINARY},
            BINARY: {"schema": _BINARY},
            MULTIPART: {
                "schema": {
                    "type": "object",
                    "properties": {named: files},
                    "required": [named],
                }
            },
            JSON: json_media,
        },
    }


def _named(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: schema},
        "required": [name],
        "additionalProperties": False,
    }


def answer_schema(manifest: Manifest, raw: dict[str, Any]) -> dict[str, Any]:
    """The 200 answer: the task's, per item, or `raw` (the output tensors) when asked."""
    kind, task = kind_of(manifest)
    if task == CLASSIFICATION:
        label: dict[str, Any] = {"type": "string"}
        if manifest.labels:
            label["enum"] = [str(x) for x in manifest.labels]
        scored = {
            "type": "object",
            "properties": {"label": label, "score": {"type": "number"}},
            "required": ["label", "score"],
        }
        one = {"type": "array", "items": scored, "description": "labels, best first"}
        many = {"type": "array", "items": one, "description": "one list of labels per item"}
        forms = [one, many] if kind == IMAGE else [many]
    else:
        number = {"type": "number"}
        vector = {
            "type": "array",
            "items": {"anyOf": [number, {"type": "array", "items": number}]},
            "description": "a text's embedding (every token's, for a model that does not pool)",
        }
        many = {"type": "array", "items": vector, "description": "one embedding per text"}
        forms = [vector, many]
    return {"anyOf": [*forms, raw]}


def answer_description(manifest: Manifest) -> str:
    kind, task = kind_of(manifest)
    if task == CLASSIFICATION:
        alone = (
            "one image sent alone (a raw body, or `inputs` a string): its labels"
            if kind == IMAGE
            else "one text sent alone: its labels, in a list"
        )
        what = f'The top-k `[{{"label", "score"}}]` per item, best first; {alone}'
    else:
        what = "One embedding per text; one text sent alone (`inputs` a string): its vector"
    return f'{what}. With `"parameters": {{"raw": true}}`: the model\'s output tensors.'
