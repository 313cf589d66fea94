"""Text requests through every front end in process (issue 25): the Lambda handler with HTTP
API v2, REST v1, Function URL and ALB events, HTTP mode's ASGI app, and the Flask app (its WSGI
app, and on Lambda through serverless-wsgi) — test_image_requests.py's front ends. Each request
form (tests/text_models.FORMS: Hugging Face's `{"inputs": …}` alone, as a list and with
`parameters` top_k and truncation, TF Serving's instances, text/plain, JSON with no
Content-Type as InferenceClient sends it, `parameters.raw`, the protocol's BYTES in JSON) is
sent to a TF-IDF and a character n-gram pipeline, a BERT- and a RoBERTa-style classifier and a
sentence-transformers directory; each answer must be the original library's (scikit-learn's
predict_proba, transformers' pipeline, sentence-transformers' encode) within the tolerance the
registration recorded. Refusals get their status and code on every front end.

`slipway serve` with real clients (InferenceClient, tritonclient): tests/infra/local/test_text_serve.py.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from tests.functions.predict.test_image_requests import FRONT_ENDS, FrontEnds
from tests.text_models import FORMS, LONG, NAMES, Form, TextModels, applies, check, form_id

# Conversions with torch in the session fixture (text_models): a minute or so.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def front_ends(text_models: TextModels) -> FrontEnds:
    # FrontEnds reads only the store and each model's ref: the text models' are alike.
    return FrontEnds(cast(Any, text_models))


@pytest.mark.parametrize("form", FORMS, ids=[form_id(f) for f in FORMS])
@pytest.mark.parametrize("front_end", FRONT_ENDS)
@pytest.mark.parametrize("name", NAMES)
def test_each_form_through_each_front_end_answers_as_the_library(
    text_models: TextModels, front_ends: FrontEnds, name: str, front_end: str, form: Form
) -> None:
    model = text_models.models[name]
    if not applies(model, form):
        pytest.skip("top_k is a classifier's parameter")
    body, headers = form.request(model)
    status, answer_headers, raw = front_ends(name, front_end)(
        "POST", form.path(model), body, headers
    )
    assert answer_headers.get("content-type") == "application/json", answer_headers
    if form.name != "oip-json":
        assert answer_headers.get("x-model-name") == model.name
    check(model, form, status, json.loads(raw))


# (what, models it applies to, body, headers, status, code, what the message names)
JSON = {"content-type": "application/json"}
REFUSED: list[tuple[str, tuple[str, ...], bytes, dict[str, str], int, str, str]] = [
    ("longer-than-the-model-reads", ("bert", "roberta", "st"),
     json.dumps({"inputs": LONG, "parameters": {"truncation": False}}).encode(), JSON, 422,
     "text_too_long", "tokens this model reads"),
    ("tei-truncate-false", ("st",), json.dumps({"inputs": [LONG], "truncate": False}).encode(),
     {}, 422, "text_too_long", "longer than the 64 tokens"),
    ("invalid-utf-8", NAMES, b"caf\xe9 au lait", {"content-type": "text/plain"}, 400,
     "invalid_text", "not UTF-8"),
    ("inputs-a-number", NAMES, b'{"inputs": 5}', JSON, 422, "invalid_input", '"inputs" must be'),
    ("unknown-parameter", NAMES, b'{"inputs": "a", "parameters": {"temperature": 1}}', JSON, 422,
     "invalid_input", "temperature"),
    ("bad-top-k", ("tfidf", "bert"), b'{"inputs": "a", "parameters": {"top_k": 0}}', JSON, 422,
     "invalid_input", "top_k"),
    ("an-image", NAMES, b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, {"content-type": "image/png"}, 415,
     "unsupported_media_type", "image/png"),
    ("too-many-texts", NAMES, json.dumps({"inputs": ["a"] * 65}).encode(), JSON, 413,
     "payload_too_large", "65 texts"),
    ("oip-wrong-datatype", NAMES, json.dumps({"inputs": [{"name": "text", "shape": [1],
     "datatype": "INT64", "data": [1]}]}).encode(), JSON, 422, "invalid_input", "BYTES"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "names", "body", "headers", "status", "code", "named"),
    REFUSED,
    ids=[r[0] for r in REFUSED],
)
@pytest.mark.parametrize("front_end", FRONT_ENDS)
def test_refusals_get_their_status_on_each_front_end(
    text_models: TextModels,
    front_ends: FrontEnds,
    front_end: str,
    what: str,
    names: tuple[str, ...],
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
    named: str,
) -> None:
    for name in names:
        path = f"/v2/models/{name}/infer" if what.startswith("oip") else "/predict"
        send = front_ends(name, front_end)
        got, answer_headers, raw = send("POST", path, body, headers)
        assert got == status, (name, raw[:400])
        assert answer_headers.get("content-type") == "application/json", answer_headers
        error = json.loads(raw)["error"]
        if not what.startswith("oip"):  # the protocol's errors are {"error": "message"}
            assert (error["status"], error["code"]) == (status, code), (name, error)
            error = error["message"]
        assert named.lower() in error.lower(), (name, error)
        # And the next request is served as usual.
        ok, _, _ = send("POST", "/predict", b'{"inputs": "I love it"}', JSON)
        assert ok == 200
