"""processing/text.py on its own: TextInput with a tokenizer trained here (truncation,
padding, masks, token types, limits, UTF-8) or none (a graph that tokenizes), and Embedding's
pooling. The models these feed: tests/model_store/test_text_models.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from functions.predict.config import Settings
from functions.predict.exceptions import (
    InvalidInput,
    InvalidText,
    ModelInitError,
    PayloadTooLarge,
    TextTooLong,
)
from functions.predict.processing.text import Embedding, TextInput
from model_store.example_text import _wordpiece, corpus
from model_store.manifest import Manifest, TensorSpec

ROLES = {"input_ids": "ids", "attention_mask": "mask", "token_type_ids": "types"}


@pytest.fixture(scope="module")
def tokenizer_json() -> bytes:
    return str(_wordpiece(corpus(120), vocab_size=200).to_str()).encode()


def manifest(processing: dict[str, Any] | None = None, string_input: bool = False) -> Manifest:
    if string_input:
        inputs: tuple[TensorSpec, ...] = (TensorSpec("text", (None, 1), "str"),)
    else:
        inputs = tuple(TensorSpec(n, ("batch", "sequence"), "int64") for n in ROLES.values())
    return Manifest(
        name="m",
        version=1,
        sha256="0" * 64,
        size_bytes=1,
        framework="transformers",
        framework_version="",
        library_versions={},
        opset={},
        inputs=inputs,
        outputs=(TensorSpec("hidden", ("batch", "sequence", 4), "float32"),),
        processing=processing,
    )


def spec(max_length: int = 8, roles: dict[str, str] = ROLES) -> dict[str, Any]:
    return {"kind": "text", "tokenizer": "tokenizer.json", "max_length": max_length,
            "inputs": roles, "pad_id": 0, "pad_token": "[PAD]"}  # fmt: skip


def text_input(tokenizer_json: bytes, settings: Settings | None = None, **kw: Any) -> TextInput:
    return TextInput(
        spec(**kw), manifest(), {"tokenizer.json": tokenizer_json}, settings or Settings()
    )


def test_a_batch_is_padded_to_its_longest_text_with_mask_and_types(tokenizer_json: bytes) -> None:
    from tokenizers import Tokenizer

    feeds = text_input(tokenizer_json).feeds(["the product", "love it", ""], {})
    assert set(feeds) == {"ids", "mask", "types"}
    reference = Tokenizer.from_str(tokenizer_json.decode())
    want = [reference.encode(t).ids for t in ("the product", "love it", "")]
    width = max(len(w) for w in want)
    assert feeds["ids"].shape == (3, width) and feeds["ids"].dtype == np.int64
    for row, ids, mask in zip(want, feeds["ids"], feeds["mask"], strict=True):
        assert ids[: len(row)].tolist() == row and not ids[len(row) :].any()  # [PAD] is 0
        assert mask.tolist() == [1] * len(row) + [0] * (width - len(row))
    assert len(want[2]) == 2  # an empty text: [CLS] [SEP] alone, as transformers encodes it
    assert not feeds["types"].any()


def test_long_texts_are_truncated_unless_the_request_says_not_to(tokenizer_json: bytes) -> None:
    inp = text_input(tokenizer_json, max_length=6)
    long = "the product arrived late and broken never again"
    ids = inp.feeds([long], {})["ids"][0]
    assert len(ids) == 6 and ids[-1] == inp._tokenizers["right"].token_to_id("[SEP]")
    left = inp.feeds([long], {"truncation_direction": "left"})["ids"][0]
    assert len(left) == 6 and left.tolist() != ids.tolist()
    assert inp.feeds(["it"], {"truncation": False})["ids"].shape[1] <= 6
    for params in ({"truncation": False}, {"truncate": False}, {"truncation": "do_not_truncate"}):
        with pytest.raises(TextTooLong, match="text 0 is longer than the 6 tokens"):
            inp.feeds([long], params)
    with pytest.raises(InvalidInput, match='"truncation" must be true or false'):
        inp.feeds([long], {"truncation": "sometimes"})
    with pytest.raises(InvalidInput, match='"truncation_direction"'):
        inp.feeds([long], {"truncation_direction": "middle"})


def test_limits_and_encodings(tokenizer_json: bytes) -> None:
    inp = text_input(tokenizer_json, Settings(max_texts=2, max_text_chars=10))
    with pytest.raises(PayloadTooLarge, match="3 texts; the limit is 2"):
        inp.feeds(["a", "b", "c"], {})
    with pytest.raises(TextTooLong, match="text 1 has 11 characters; the limit is 10"):
        inp.feeds(["a", "x" * 11], {})
    with pytest.raises(InvalidText, match="text 0 is not UTF-8"):
        inp.feeds([b"\xff\xfe"], {})
    assert inp.feeds(["caf\u00e9".encode()], {})["ids"].shape[0] == 1  # bytes: UTF-8 text
    assert TextTooLong.status == 422 and InvalidText.status == 400


def test_token_type_ids_only_when_the_model_takes_them(tokenizer_json: bytes) -> None:
    roles = {"input_ids": "ids", "attention_mask": "mask"}
    feeds = TextInput(
        spec(roles=roles), manifest(), {"tokenizer.json": tokenizer_json}, Settings()
    ).feeds(["love it"], {})
    assert set(feeds) == {"ids", "mask"}


def test_unusable_processing_fails_at_init(tokenizer_json: bytes) -> None:
    with pytest.raises(ModelInitError, match="not among the version's assets"):
        TextInput(spec(), manifest(), {}, Settings())
    with pytest.raises(ModelInitError, match="the model's inputs"):
        TextInput(spec(roles={"input_ids": "nope"}), manifest(), {"tokenizer.json": tokenizer_json}, Settings())  # fmt: skip
    with pytest.raises(ModelInitError, match="does not load"):
        TextInput(spec(), manifest(), {"tokenizer.json": b"{}"}, Settings())
    with pytest.raises(ModelInitError, match="not a string input"):
        TextInput({"kind": "text", "name": "ids"}, manifest(), {}, Settings())


def test_without_a_tokenizer_texts_go_to_the_string_input() -> None:
    inp = TextInput({"kind": "text", "name": "text"}, manifest(string_input=True), {}, Settings())
    feeds = inp.feeds(["I love it", ""], {})
    assert feeds["text"].shape == (2, 1) and feeds["text"].dtype == object
    assert feeds["text"][:, 0].tolist() == ["I love it", ""]


def embedding(pooling: str, normalize: bool = False) -> Embedding:
    processing = {"input": spec(), "output": {"task": "embedding", "output": "hidden",
                                              "pooling": pooling, "normalize": normalize}}  # fmt: skip
    return Embedding(processing["output"], manifest(processing))


def test_pooling_over_the_attention_mask() -> None:
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(2, 3, 4)).astype(np.float32)
    mask = np.array([[1, 1, 0], [1, 1, 1]], dtype=np.int64)
    feeds = {"mask": mask}
    mean = embedding("mean").pooled([hidden], feeds, {})
    np.testing.assert_allclose(mean[0], hidden[0, :2].mean(0), rtol=1e-6)
    np.testing.assert_allclose(mean[1], hidden[1].mean(0), rtol=1e-6)
    np.testing.assert_array_equal(embedding("cls").pooled([hidden], feeds, {}), hidden[:, 0])
    unit = embedding("mean", normalize=True).answer([hidden], feeds, {})
    np.testing.assert_allclose([np.linalg.norm(v) for v in unit], [1.0, 1.0], rtol=1e-6)
    raw = embedding("mean", normalize=True).pooled([hidden], feeds, {"normalize": False})
    np.testing.assert_allclose(raw, mean)
    tokens = embedding("none").answer([hidden], feeds, {})
    assert [t.shape for t in tokens] == [(2, 4), (3, 4)]  # each text's own tokens
    with pytest.raises(InvalidInput, match='"normalize" must be true or false'):
        embedding("mean").pooled([hidden], feeds, {"normalize": "yes"})
    with pytest.raises(ModelInitError, match="pooling 'max'"):
        embedding("max")


def test_leading_dimensions_then_normalised_and_float_only() -> None:
    """InferenceClient.feature_extraction's dimensions and encoding_format (sent when set)."""
    rng = np.random.default_rng(1)
    hidden = rng.normal(size=(2, 3, 4)).astype(np.float32)
    feeds = {"mask": np.ones((2, 3), dtype=np.int64)}
    full = embedding("mean").pooled([hidden], feeds, {})
    short = embedding("mean", normalize=True).answer([hidden], feeds, {"dimensions": 2})
    want = full[:, :2] / np.linalg.norm(full[:, :2], axis=1, keepdims=True)
    np.testing.assert_allclose(np.stack(short), want, rtol=1e-6)
    for bad in (0, 5, "2", True):
        with pytest.raises(InvalidInput, match='"dimensions" must be a whole number from 1 to 4'):
            embedding("mean").answer([hidden], feeds, {"dimensions": bad})
    assert len(embedding("mean").answer([hidden], feeds, {"encoding_format": "float"})) == 2
    with pytest.raises(InvalidInput, match='"encoding_format" must be "float"'):
        embedding("mean").answer([hidden], feeds, {"encoding_format": "base64"})


def hidden_graph() -> bytes:
    """An ONNX graph of manifest()'s inputs and output: each token's hidden vector is its id
    times (1, 2, 3, 4), so pooling can be checked by hand."""
    from onnx import TensorProto, helper

    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in ROLES.values()]  # fmt: skip
    out = helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "sequence", 4])
    nodes = [
        helper.make_node("Unsqueeze", ["ids", "axis"], ["ids3"]),
        helper.make_node("Cast", ["ids3"], ["idsf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["idsf", "scale"], ["hidden"]),
        helper.make_node("Identity", ["mask"], ["unused_mask"]),
        helper.make_node("Identity", ["types"], ["unused_types"]),
    ]
    consts = [
        helper.make_tensor("axis", TensorProto.INT64, [1], [2]),
        helper.make_tensor("scale", TensorProto.FLOAT, [4], [1, 2, 3, 4]),
    ]
    graph = helper.make_graph(nodes, "hidden", ints, [out], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def test_oip_answers_the_pooled_embedding_and_takes_long_texts_in_json(
    tokenizer_json: bytes,
) -> None:
    """The Open Inference Protocol of an embedding model: one BYTES input `text` (JSON or
    binary), the model's token embeddings and each text's pooled vector as `embedding`; a
    text's characters bounded by the text model's limit, not the tabular strings' 1024."""
    import dataclasses
    import json

    import tritonclient.http as triton
    from tritonclient.http._utils import _get_inference_request

    from functions.predict.oip import HEADER_LENGTH
    from functions.predict.oip.routes import Protocol
    from functions.predict.service import PredictionService
    from model_store.loader import load_model
    from model_store.manifest import sha256_hex

    data = hidden_graph()
    processing = {"input": spec(max_length=512), "output": {"task": "embedding", "output": "hidden", "pooling": "mean", "normalize": True}}  # fmt: skip
    made = dataclasses.replace(manifest(processing), sha256=sha256_hex(data), size_bytes=len(data))
    service = PredictionService(load_model(data, made), Settings(max_text_chars=3000), {"tokenizer.json": tokenizer_json})  # fmt: skip
    protocol = Protocol(service)
    meta = json.loads(protocol.answer("GET", "/v2/models/m").body)
    assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert meta["outputs"] == [
        {"name": "hidden", "datatype": "FP32", "shape": [-1, -1, 4]},
        {"name": "embedding", "datatype": "FP32", "shape": [-1, 4]},
    ]
    texts = ["the product", "love it " * 200]  # 1,600 characters
    want = service.processing.input.feeds(texts, {})  # type: ignore[union-attr]
    ids, mask = want["ids"].astype(np.float32), want["mask"].astype(np.float32)
    mean = (ids * mask).sum(1) / mask.sum(1)
    expected = np.outer(mean, [1, 2, 3, 4]) / np.linalg.norm(np.outer(mean, [1, 2, 3, 4]), axis=1, keepdims=True)  # fmt: skip
    for binary in (False, True):
        tensor = triton.InferInput("text", [2], "BYTES")
        tensor.set_data_from_numpy(np.array(texts, dtype=object), binary_data=binary)
        outputs = [triton.InferRequestedOutput("embedding", binary_data=binary)]
        body, size = _get_inference_request(inputs=[tensor], request_id="", outputs=outputs, sequence_id=0, sequence_start=False, sequence_end=False, priority=0, timeout=None, custom_parameters=None)  # fmt: skip
        answer = protocol.answer("POST", "/v2/models/m/infer", body, None if size is None else str(size))  # fmt: skip
        assert answer.status == 200, answer.body[:300]
        length = answer.headers.get(HEADER_LENGTH)
        result = triton.InferResult.from_response_body(
            answer.body, header_length=int(length) if length else None
        )
        np.testing.assert_allclose(result.as_numpy("embedding"), expected, rtol=1e-5)
    too_long = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["x" * 3001]}]}  # fmt: skip
    refused = protocol.answer("POST", "/v2/models/m/infer", json.dumps(too_long).encode())
    assert refused.status == 422 and b"3001 characters; the limit is 3000" in refused.body
