"""The request forms of a model with processing: images and texts in the forms their clients
send, as a list of items (bytes for images, str for texts) and the request's parameters.

- raw bytes: one image with `Content-Type: image/jpeg` (…), `application/x-image`
  (SageMaker), `application/octet-stream`, or none (huggingface_hub's InferenceClient sends
  none), told apart from JSON by its magic number (media.py); one text as `text/plain`;
- `multipart/form-data`: image files, a browser form or `curl -F` (multipart.py);
- Hugging Face's JSON, `{"inputs": item | [items], "parameters": {...}}`, an image as base64
  text (feature extraction's parameters at the top level too, as its clients send them);
- TF Serving's JSON, `{"instances": [{"b64": "…"} | {"<input>": {"b64": "…"}} | "text" |
  {"<input>": "text"}, …]}`.

Each form owns its refusals, naming the item they are about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from functions.predict.body import BINARY, JSON, decode_base64
from functions.predict.exceptions import (
    InvalidBase64,
    InvalidInput,
    InvalidText,
    UnsupportedImage,
    UnsupportedMediaType,
)
from functions.predict.forms.arrays import json_type
from functions.predict.forms.jsonbody import parse_json
from functions.predict.limits import check_batch
from functions.predict.media import (
    SUPPORTED,
    describe,
    image_type,
    looks_like_json,
    media_type,
)
from functions.predict.messages import quote
from functions.predict.processing import IMAGE, TEXT

# Request parameters a model with processing takes (Hugging Face's names for its tasks).
PARAMETERS = frozenset(
    {
        "top_k",
        "function_to_apply",  # classification
        "truncation",
        "truncate",
        "truncation_direction",
        "normalize",
        "prompt_name",
        "dimensions",
        "encoding_format",  # text; feature extraction sends them at the top level
        "raw",  # the model's outputs as tensors, not the task's answer
    }
)
# Parameters a text request may also send at the top level (text-embeddings-inference does).
TOP_LEVEL = PARAMETERS - {"raw", "top_k", "function_to_apply"}
# Bodies taken as one image when they are one (by their bytes): SageMaker's type, the generic
# one, none (huggingface_hub sends none), and curl's default for --data-binary.
_RAW_IMAGE = frozenset({"application/x-image", BINARY, "", "application/x-www-form-urlencoded"})


@dataclass(frozen=True)
class Items:
    values: list[Any]  # bytes (images) or str (texts)
    params: Mapping[str, Any]
    single: bool  # one item sent alone (not in a list): answered unwrapped (Processing.body)


def check_media(kind: str) -> Any:
    """body.read's Content-Type rule for a model of `kind`: a function raising
    UnsupportedMediaType for a type no form of that kind takes."""

    def check(content_type: str | None) -> None:
        media = media_type(content_type)
        if media == JSON or (media.startswith("application/") and media.endswith("+json")):
            return
        if kind == IMAGE and (
            media in _RAW_IMAGE or media.startswith("image/") or media == "multipart/form-data"
        ):
            return
        if kind == TEXT and media in ("", "text/plain"):
            return
        takes = (
            f"{JSON}, image/* (JPEG, PNG, WebP, GIF, BMP), {BINARY} or multipart/form-data"
            if kind == IMAGE
            else f"{JSON} or text/plain"
        )
        raise UnsupportedMediaType(
            f"Content-Type {quote(media)} is not taken by this {kind} model; send {takes}"
        )

    return check


def decode(
    raw: bytes, content_type: str | None, kind: str, input_name: str, max_batch: int
) -> Items:
    """The items of a request to a model of `kind` (whose one input is `input_name`)."""
    media = media_type(content_type)
    if kind == IMAGE:
        if media.startswith("image/") or (media in _RAW_IMAGE and not looks_like_json(raw)):
            return Items([image_bytes(raw, media)], {}, True)
        if media == "multipart/form-data":
            from functions.predict.forms import multipart  # python-multipart: image models only

            files = multipart.parse(raw, content_type or "")
            check_batch("the form", len(files), max_batch)
            return Items([image_bytes(f, "") for f in files], {}, False)
    elif media == "text/plain":
        return Items([utf8(raw, "the body")], {}, True)
    return _json(parse_json(raw), kind, input_name, max_batch)


def image_bytes(raw: bytes, media: str) -> bytes:
    """`raw` if it is an image of a format the model takes; else the refusal saying what it is
    (a PNG sent as image/jpeg is taken: the bytes decide, as the decoder does)."""
    if image_type(raw) is not None:
        return raw
    declared = f" (sent as {quote(media, 60)})" if media else ""
    raise UnsupportedImage(f"the body{declared} is {describe(raw)}; send a {SUPPORTED} image")


def utf8(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidText(f"{where} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _json(payload: Any, kind: str, input_name: str, max_batch: int) -> Items:
    if type(payload) is not dict:
        raise InvalidInput(
            f'the body must be a JSON object like {{"inputs": …}}; got {json_type(payload)}'
        )
    forms = [k for k in ("inputs", "instances") if k in payload]
    if len(forms) != 1:
        raise InvalidInput(
            'send either "inputs" (with "parameters") or "instances"'
            if forms
            else f'the body has no "inputs" field, nor "instances" (fields given: '
            f"{quote(sorted(payload))})"
        )
    extra = (
        set(payload)
        - {"inputs", "instances", "parameters"}
        - (TOP_LEVEL if kind == TEXT else set())
    )
    if extra:
        raise InvalidInput(
            f'unknown fields {quote(sorted(extra))}; the body takes "inputs" and "parameters", '
            'or "instances"'
        )
    params = payload.get("parameters") or {}
    if type(params) is not dict:
        raise InvalidInput(f'"parameters" must be an object; got {json_type(params)}')
    params = {**{k: payload[k] for k in TOP_LEVEL if k in payload}, **params}
    unknown = set(params) - PARAMETERS
    if unknown:
        raise InvalidInput(
            f"unknown parameters {quote(sorted(unknown))}; this model takes "
            f"{quote(sorted(PARAMETERS))}"
        )
    if "inputs" in payload:
        value = payload["inputs"]
        if type(value) is str:
            return Items([_item(value, kind, '"inputs"')], params, True)
        if type(value) is not list or not value:
            raise InvalidInput(
                f'"inputs" must be {_one(kind)} or a non-empty list of them; got {json_type(value)}'
            )
        check_batch('"inputs"', len(value), max_batch)
        return Items([_item(v, kind, f'"inputs"[{i}]') for i, v in enumerate(value)], params, False)
    instances = payload["instances"]
    if type(instances) is not list or not instances:
        raise InvalidInput(f'"instances" must be a non-empty list; got {json_type(instances)}')
    check_batch('"instances"', len(instances), max_batch)
    values = [_instance(v, kind, input_name, i) for i, v in enumerate(instances)]
    return Items(values, params, False)


def _one(kind: str) -> str:
    return "an image as base64 text" if kind == IMAGE else "a text"


def _item(value: Any, kind: str, where: str) -> bytes | str:
    if type(value) is not str:
        raise InvalidInput(f"{where} must be {_one(kind)}; got {json_type(value)}")
    if kind == TEXT:
        return value
    try:
        raw = decode_base64(value)
    except InvalidBase64 as err:
        raise InvalidBase64(f"{where} is not an image as base64 text: {err.message}") from None
    return image_bytes(raw, "")


def _instance(value: Any, kind: str, input_name: str, i: int) -> bytes | str:
    """TF Serving's instance: {"b64": …} (or by the input's name), or a text."""
    where = f"instances[{i}]"
    if type(value) is dict and len(value) == 1:
        ((key, inner),) = value.items()
        if key == input_name or (kind == TEXT and key == "text"):
            value, where = inner, f"{where}.{key}"
    if kind == IMAGE:
        if type(value) is dict and set(value) == {"b64"}:
            return _item(value["b64"], kind, f"{where}.b64")
        raise InvalidInput(
            f'{where} must be {{"b64": "<image as base64>"}} or {{"{input_name}": {{"b64": …}}}}; '
            f"got {json_type(value)}"
        )
    return _item(value, kind, where)
