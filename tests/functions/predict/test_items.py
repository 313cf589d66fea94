"""The request forms of a model with processing (forms/items.py), its media sniffing
(media.py) and the classifier's answer (processing/labels.py), on their own."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from functions.predict import media
from functions.predict.exceptions import (
    HTTPError,
    InvalidBase64,
    InvalidInput,
    InvalidText,
    UnsupportedImage,
    UnsupportedMediaType,
)
from functions.predict.forms import items
from functions.predict.processing import CLASSIFICATION, IMAGE, TEXT, Processing
from functions.predict.processing.labels import Classification, apply
from model_store.manifest import Manifest, TensorSpec


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "png"), ("JPEG", "jpeg"), ("GIF", "gif"), ("WEBP", "webp"), ("BMP", "bmp")],
)
def test_pillows_own_files_are_sniffed(fmt: str, name: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (5, 5)).save(out, fmt)
    assert media.image_type(out.getvalue()) == f"image/{name}"


def test_formats_not_taken_are_named() -> None:
    out = io.BytesIO()
    Image.new("RGB", (5, 5)).save(out, "TIFF")
    assert media.image_type(out.getvalue()) is None
    assert "image/tiff" in media.describe(out.getvalue())
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'
    assert "image/svg+xml" in media.describe(svg)
    assert "image/heic" in media.describe(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00")
    assert "JSON" in media.describe(b'{"inputs": "x"}')


def decode(raw: bytes, ctype: str | None, kind: str = IMAGE) -> items.Items:
    return items.decode(raw, ctype, kind, "image" if kind == IMAGE else "text", 4)


def test_raw_image_bodies_with_or_without_a_content_type() -> None:
    for ctype in (
        "image/png",
        "application/octet-stream",
        "application/x-image",
        "application/x-www-form-urlencoded",  # curl --data-binary without -H
        None,
    ):
        got = decode(png(), ctype)
        assert got.values == [png()] and got.single and got.params == {}


def test_a_body_that_is_not_the_declared_image_is_named() -> None:
    # An image of another taken format than declared (a PNG sent as image/jpeg) is taken.
    assert decode(png(), "image/jpeg").values == [png()]
    with pytest.raises(UnsupportedImage, match="image/jpeg"):
        decode(b"\x00\x01\x02\x03" * 8, "image/jpeg")
    out = io.BytesIO()
    Image.new("RGB", (5, 5)).save(out, "TIFF")
    with pytest.raises(UnsupportedImage, match="image/tiff"):
        decode(out.getvalue(), "image/tiff")


def test_hugging_faces_json_forms() -> None:
    b64 = base64.b64encode(jpeg()).decode()
    got = decode(json.dumps({"inputs": b64, "parameters": {"top_k": 3}}).encode(), None)
    assert got.values == [jpeg()] and got.single and got.params == {"top_k": 3}
    got = decode(json.dumps({"inputs": [b64, b64]}).encode(), "application/json")
    assert len(got.values) == 2 and not got.single
    text = items.decode(b'{"inputs":"I love it","parameters":{}}', None, TEXT, "text", 4)
    assert text.values == ["I love it"] and text.single
    # feature extraction sends its parameters at the top level
    emb = items.decode(b'{"inputs":["a","b"],"normalize":true}', None, TEXT, "text", 4)
    assert emb.values == ["a", "b"] and emb.params == {"normalize": True}


def test_tf_servings_instances() -> None:
    b64 = base64.b64encode(png()).decode()
    body = {"instances": [{"b64": b64}, {"image": {"b64": b64}}]}
    got = decode(json.dumps(body).encode(), "application/json")
    assert got.values == [png(), png()] and not got.single
    text = items.decode(b'{"instances": ["a", {"text": "b"}]}', None, TEXT, "text", 4)
    assert text.values == ["a", "b"]


@pytest.mark.parametrize(
    ("body", "error", "words"),
    [
        (b'{"inputs": "%%%"}', InvalidBase64, '"inputs" is not an image'),
        (b'{"inputs": []}', InvalidInput, "non-empty list"),
        (b'{"inputs": [1]}', InvalidInput, '"inputs"[0] must be an image'),
        (b'{"inputs": "YQ==", "instances": []}', InvalidInput, "either"),
        (b'{"inputs": "YQ==", "x": 1}', InvalidInput, "unknown fields ['x']"),
        (b'{"inputs": "YQ==", "parameters": {"nope": 1}}', InvalidInput, "unknown parameters"),
        (b'{"instances": [{"b64": "YQ=="}]}', UnsupportedImage, "not an image"),
        (b'{"instances": [{"x": 1}]}', InvalidInput, "instances[0] must be"),
        (b'{"instances": [' + b'{"b64": "YQ=="},' * 4 + b'{"b64": "YQ=="}]}', HTTPError, "limit"),
    ],
)
def test_refusals_name_the_item(body: bytes, error: type[HTTPError], words: str) -> None:
    with pytest.raises(error, match=None) as caught:
        decode(body, "application/json")
    assert words in caught.value.message


def test_text_bodies() -> None:
    got = items.decode("héllo".encode(), "text/plain; charset=utf-8", TEXT, "text", 4)
    assert got.values == ["héllo"] and got.single
    with pytest.raises(InvalidText, match="not UTF-8"):
        items.decode(b"\xff\xfe", "text/plain", TEXT, "text", 4)


def test_content_types_each_kind_takes() -> None:
    image, text = items.check_media(IMAGE), items.check_media(TEXT)
    for ctype in (None, "application/json", "image/webp", "multipart/form-data; boundary=x"):
        image(ctype)
    for ctype in (None, "application/json", "text/plain; charset=utf-8"):
        text(ctype)
    with pytest.raises(UnsupportedMediaType, match="image/"):
        image("text/csv")
    with pytest.raises(UnsupportedMediaType, match="text/plain"):
        text("image/png")


def manifest(labels: tuple[str, ...] | None = ("cat", "dog", "owl")) -> Manifest:
    return Manifest(
        name="m",
        version=1,
        sha256="0" * 64,
        size_bytes=1,
        framework="onnx",
        framework_version="",
        library_versions={},
        opset={},
        inputs=(TensorSpec("x", (None, 3), "float32"),),
        outputs=(TensorSpec("logits", (None, 3), "float32"),),
        labels=labels,
    )


def test_top_k_labels_after_the_models_function() -> None:
    logits = np.array([[1.0, 3.0, 2.0], [0.0, 0.0, 5.0]], dtype=np.float32)
    head = Classification({"function_to_apply": "softmax", "top_k": 2}, manifest())
    got = head.answer([logits], {}, {})
    want = apply("softmax", logits.astype(np.float64))
    assert [[x["label"] for x in row] for row in got] == [["dog", "owl"], ["owl", "cat"]]
    assert got[0][0]["score"] == pytest.approx(want[0, 1])
    assert sum(x["score"] for x in head.answer([logits], {}, {"top_k": 9})[0]) == pytest.approx(1)
    sig = head.answer([logits], {}, {"function_to_apply": "sigmoid", "top_k": 1})
    assert sig[1][0]["score"] == pytest.approx(1 / (1 + np.exp(-5.0)))
    with pytest.raises(InvalidInput, match="top_k"):
        head.answer([logits], {}, {"top_k": 0})
    with pytest.raises(InvalidInput, match="function_to_apply"):
        head.answer([logits], {}, {"function_to_apply": "relu"})
    unnamed = Classification({}, manifest(None)).answer([logits], {}, {})
    assert unnamed[0][0]["label"] == "LABEL_1"


def test_one_item_is_answered_as_hugging_faces_endpoints_do() -> None:
    head = Classification({}, manifest())
    answers = [[{"label": "cat", "score": 1.0}]]
    image = Processing(None, head, IMAGE, CLASSIFICATION)  # type: ignore[arg-type]
    text = Processing(None, head, TEXT, CLASSIFICATION)  # type: ignore[arg-type]
    assert image.body(answers, single=True) == answers[0]
    assert text.body(answers, single=True) == answers  # InferenceClient takes [0]
    assert image.body(answers, single=False) == answers
