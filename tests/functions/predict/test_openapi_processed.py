"""POST /predict's document for models with processing (openapi_processed.py): the request
forms and answers of an image classifier, a text classifier and a text embedding, checked by
validating real-shaped bodies against the documented schemas (JSON Schema 2020-12, as OpenAPI
3.1 uses)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from functions.predict.config import Settings
from functions.predict.forms.items import PARAMETERS
from functions.predict.openapi import predict_openapi
from functions.predict.openapi_oip import oip_inputs
from functions.predict.openapi_processed import SCHEMAS
from model_store.manifest import Manifest, TensorSpec
from tests.functions.predict.test_items import manifest as base_manifest

IMAGE = {"kind": "image", "name": "input", "resize": {"height": 8, "width": 8}}
TEXT = {"kind": "text", "tokenizer": "tokenizer.json", "inputs": {"input_ids": "input_ids"}}
CLASSIFY = {"task": "classification", "output": "logits", "function_to_apply": "softmax"}
EMBED = {"task": "embedding", "output": "last_hidden_state", "pooling": "mean"}


def manifest(inp: dict[str, Any], out: dict[str, Any]) -> Manifest:
    classify = out["task"] == "classification"
    return replace(
        base_manifest(("cat", "dog") if classify else None),
        outputs=(TensorSpec(out["output"], ("batch", 2), "float32"),),
        kind="classifier" if classify else "generic",
        example={"inputs": "aGk="},
        processing={"input": inp, "output": out},
    )


def documented(m: Manifest) -> tuple[dict[str, Any], dict[str, Any], str]:
    doc = predict_openapi(m, Settings(max_images=4, max_texts=3))
    content = doc["openapi_extra"]["requestBody"]["content"]
    answer = doc["responses"][200]["content"]["application/json"]["schema"]
    return content, answer, doc["summary"]


def valid(schema: dict[str, Any], value: Any) -> bool:
    return bool(Draft202012Validator(schema).is_valid(value))


def test_an_image_classifier_documents_every_form_and_its_answer() -> None:
    m = manifest(IMAGE, CLASSIFY)
    content, answer, summary = documented(m)
    assert summary == "Predict from images"
    assert list(content) == [
        "image/*",
        "application/octet-stream",
        "multipart/form-data",
        "application/json",
    ]
    assert content["image/*"]["schema"] == {"type": "string", "format": "binary"}
    assert content["multipart/form-data"]["schema"]["properties"]["image"]["maxItems"] == 4
    body = content["application/json"]["schema"]
    assert content["application/json"]["example"] == m.example
    for ok in (
        {"inputs": "aGk=", "parameters": {"top_k": 3}},
        {"inputs": ["aGk=", "aGk="]},
        {"instances": [{"b64": "aGk="}, {"image": {"b64": "aGk="}}]},
        {"inputs": "aGk=", "parameters": {"raw": True, "function_to_apply": "none"}},
    ):
        assert valid(body, ok), ok
    for bad in (
        {"inputs": "aGk=", "parameters": {"truncation": True}},  # a text model's
        {"inputs": ["aGk="] * 5},  # over SLIPWAY_MAX_IMAGES
        {"instances": [{"input": {"b64": "aGk="}}]},  # the input is named "image"
        {"inputs": "aGk=", "instances": []},
    ):
        assert not valid(body, bad), bad
    one = [{"label": "dog", "score": 0.9}, {"label": "cat", "score": 0.1}]
    raw = {"outputs": {"logits": [[0.1, 2.0]], "label": ["dog"]}, "model": {"name": "m"}}
    assert valid(answer, one) and valid(answer, [one, one]) and valid(answer, raw)
    assert not valid(answer, [{"label": "horse", "score": 1.0}])  # labels are the model's
    assert oip_inputs(m) == (TensorSpec("image", (None,), "str"),)


@pytest.mark.parametrize(("out", "task"), [(CLASSIFY, "classification"), (EMBED, "embedding")])
def test_a_text_model_documents_json_and_plain_text(out: dict[str, Any], task: str) -> None:
    m = manifest(TEXT, out)
    content, answer, summary = documented(m)
    assert summary == "Predict from texts" and list(content) == ["application/json", "text/plain"]
    body = content["application/json"]["schema"]
    for ok in (
        {"inputs": "I love it", "parameters": {"truncation": False}},
        {"inputs": ["a", "b"], "normalize": True, "truncate": True},  # TEI's, at the top
        {"instances": ["a", {"text": "b"}]},
    ):
        assert valid(body, ok), ok
    assert not valid(body, {"inputs": ["a"] * 4})  # over SLIPWAY_MAX_TEXTS
    if task == "classification":
        labels = [[{"label": "cat", "score": 0.7}, {"label": "dog", "score": 0.3}]]
        assert valid(answer, labels)  # one text alone: its labels in a list
        assert not valid(answer, labels[0])
        assert "top_k" in body["oneOf"][0]["properties"]["parameters"]["properties"]
    else:
        assert valid(answer, [0.1, 0.2]) and valid(answer, [[0.1, 0.2], [0.3, 0.4]])
        assert "top_k" not in body["oneOf"][0]["properties"]["parameters"]["properties"]
    assert oip_inputs(m) == (TensorSpec("text", (None,), "str"),)


def test_every_request_parameter_is_documented() -> None:
    assert set(SCHEMAS) == PARAMETERS
