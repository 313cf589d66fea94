"""The OpenAPI document of models with processing against what they answer (issues 24, 25):
for the image models (tests/image_models.py) and the text models (tests/text_models.py), the
document is valid OpenAPI, every JSON request form validates against the documented request
body, every answer against the documented 200 answer, and the protocol's documented inputs
and outputs are the ones its metadata shows. Through the Lambda handler, in process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from infra import events
from tests.contract.clients import CTX, answer_from_lambda

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

IMAGES = ("pytorch", "keras", "huggingface")
TEXTS = ("tfidf", "bert", "st")


def served(store: Any, ref: str) -> Any:
    from functions.predict.runtime import build

    handler = build({"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": ref, "SLIPWAY_METRICS": "off"})

    def call(method: str, path: str, body: bytes = b"", headers: Any = None) -> Any:
        event = events.http_api_v2(method, path, body=body or None, headers=headers or {})
        return answer_from_lambda(handler(event, CTX))

    return call


def check_document(call: Any, name: str, forms: list[tuple[str, bytes, dict[str, str]]]) -> None:
    from openapi_spec_validator import validate

    document = call("GET", "/openapi.json").json()
    validate(document)
    post = document["paths"]["/predict"]["post"]
    content = post["requestBody"]["content"]
    request = Draft202012Validator(content["application/json"]["schema"])
    answer = Draft202012Validator(post["responses"]["200"]["content"]["application/json"]["schema"])
    for path, body, headers in forms:
        got = call("POST", path, body, headers)
        assert got.status == 200, got.body[:300]
        if path != "/predict":
            continue
        media = headers.get("content-type", "").split(";")[0]
        if media:  # documented as such, or by its range (image/*)
            assert {media, media.split("/")[0] + "/*"} & set(content), media
        if media == "application/json" or not media and body.startswith(b"{"):
            request.validate(json.loads(body))
        answer.validate(got.json())
    meta = call("GET", f"/v2/models/{name}").json()
    infer = document["paths"][f"/v2/models/{name}/infer"]["post"]
    schema = infer["requestBody"]["content"]["application/json"]["schema"]["properties"]
    (tensor,) = schema["inputs"]["items"]["anyOf"]
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        (tensor["properties"]["name"]["enum"][0], tensor["properties"]["datatype"]["enum"][0])
    ]
    documented = schema["outputs"]["items"]["properties"]["name"]["enum"]
    assert documented == [o["name"] for o in meta["outputs"]]


@pytest.mark.parametrize("framework", IMAGES)
def test_an_image_models_document_describes_its_answers(image_models: Any, framework: str) -> None:
    from tests.image_models import FORMS

    model = image_models.models[framework]
    forms = []
    for form in FORMS:
        body, headers = form.request(image_models.items)
        forms.append((form.path(model), body, headers))
    check_document(served(image_models.store, model.ref), model.name, forms)


@pytest.mark.parametrize("name", TEXTS)
def test_a_text_models_document_describes_its_answers(text_models: Any, name: str) -> None:
    from tests.text_models import FORMS, applies

    model = text_models.models[name]
    forms = [(f.path(model), *f.request(model)) for f in FORMS if applies(model, f)]
    check_document(served(text_models.store, model.ref), model.name, forms)
