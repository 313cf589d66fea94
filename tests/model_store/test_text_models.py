"""Hugging Face transformer directories (model_store/convert/hf*.py), built here from configs
with random weights and tokenizers trained on a small corpus (model_store/example_text.py):
a BERT-style (WordPiece) and a RoBERTa-style (byte-level BPE) classifier and a
sentence-transformers embedding directory, each registered with its parity and served by the
prediction function, answering as transformers' pipeline and sentence-transformers' encode do;
int8; what is refused. Integration: each converts with torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_store import example_text
from model_store.api import register
from model_store.backends.local import LocalStore
from model_store.exceptions import ConversionError
from tests.model_store.helpers import CTX, event

pytestmark = pytest.mark.integration
TEXTS = example_text.sample_texts()


def answer(store: Path, ref: str, body: Any, path: str = "/predict") -> tuple[int, Any]:
    from functions.predict.runtime import build

    function = build({"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": ref, "SLIPWAY_METRICS": "off"})
    response = function(event(body, path=path), CTX)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    return {
        "bert": example_text.bert_classifier(root / "bert"),
        "roberta": example_text.roberta_classifier(root / "roberta"),
        "st": example_text.sentence_embedding(root / "st"),
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path]) -> Path:
    root = tmp_path_factory.mktemp("store")
    for name, path in built.items():
        register(path, name=name, sample=TEXTS, store=root)
    return root


@pytest.mark.parametrize("name", ["bert", "roberta"])
def test_classifiers_answer_as_the_transformers_pipeline(
    built: dict[str, Path], store: Path, name: str
) -> None:
    from transformers import pipeline

    manifest = LocalStore(store).manifest(name)
    parity = manifest.parity
    assert parity is not None and parity.passed and parity.samples == len(TEXTS)
    checks = parity.checks or {}
    assert checks["tokens"] == {"texts": len(TEXTS), "mismatches": 0}
    assert checks["transformers"]["max_abs_diff"] < 1e-4
    # Served with onnxruntime's fused operators (model_store/convert/hf_graph.py), 2 layers.
    fused = checks["fusions"]["fused"]
    assert fused["Attention"] == 2 and fused["BiasGelu"] == 2, checks["fusions"]
    # The residual LayerNorms are served unfused: onnxruntime's SkipLayerNormalization is slower.
    assert "SkipLayerNormalization" not in fused
    assert checks["fusions"]["split"]["SkipLayerNormalization"] >= 4, checks["fusions"]
    assert manifest.opset.get("com.microsoft") == 1
    assert manifest.assets is not None and set(manifest.assets) == {"tokenizer.json"}
    stored = LocalStore(store).model_path(manifest).parent / "tokenizer.json"
    assert stored.read_bytes() == (built[name] / "tokenizer.json").read_bytes()
    inputs = {i.name for i in manifest.inputs}
    assert {"input_ids", "attention_mask"} <= inputs
    assert all(i.shape == ("batch", "sequence") for i in manifest.inputs)
    classify = pipeline("text-classification", model=str(built[name]), device="cpu", top_k=None)
    texts = [t for t in TEXTS if t]  # the pipeline refuses an empty text; Slipway answers it
    want: Any = classify(texts, truncation=True)
    status, got = answer(store, name, {"inputs": texts, "parameters": {"top_k": 10}})
    assert status == 200
    for mine, theirs in zip(got, want, strict=True):
        assert {d["label"] for d in mine} == {d["label"] for d in theirs}
        scores = {d["label"]: d["score"] for d in theirs}
        for d in mine:
            assert d["score"] == pytest.approx(scores[d["label"]], abs=1e-5)
    status, one = answer(store, name, {"inputs": "I love it"})
    assert status == 200 and isinstance(one, list) and len(one) == 1  # HF: [[{label, score}]]
    status, empty = answer(store, name, {"inputs": ""})
    assert status == 200 and empty[0][0]["label"] in manifest.labels  # type: ignore[operator]


def test_sentence_embeddings_answer_as_sentence_transformers_encode(
    built: dict[str, Path], store: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    manifest = LocalStore(store).manifest("st")
    checks = (manifest.parity.checks or {}) if manifest.parity else {}
    assert checks["sentence-transformers"]["passed"] and checks["transformers"]["passed"]
    assert manifest.processing is not None
    assert manifest.processing["output"] == {
        "task": "embedding",
        "output": "last_hidden_state",
        "pooling": "mean",
        "normalize": True,
    }
    want = SentenceTransformer(str(built["st"]), device="cpu").encode(TEXTS)
    status, got = answer(store, "st", {"inputs": TEXTS})
    assert status == 200
    np.testing.assert_allclose(np.array(got), want, atol=1e-5)
    status, single = answer(store, "st", {"inputs": TEXTS[0]})
    assert status == 200
    np.testing.assert_allclose(single, want[0], atol=1e-5)
    status, refused = answer(store, "st", {"inputs": TEXTS[6], "parameters": {"truncate": False}})
    assert status == 422 and refused["error"]["code"] == "text_too_long"


def test_int8_records_its_difference_to_the_float_model(
    built: dict[str, Path], tmp_path: Path
) -> None:
    done = register(built["st"], name="st8", sample=TEXTS, store=tmp_path, quantize="int8")
    checks = (done.manifest.parity.checks or {}) if done.manifest.parity else {}
    int8 = checks["int8"]
    assert int8["int8_size_bytes"] < int8["float_size_bytes"]
    assert 0 < int8["max_abs_diff"] <= int8["bound"] and int8["min_cosine"] > 0.9
    assert checks["float model"]["passed"] and checks["sentence-transformers"]["passed"]
    status, got = answer(tmp_path, "st8", {"inputs": ["I love it"]})
    assert status == 200 and len(got[0]) == 32
    with pytest.raises(ConversionError, match="differs from .* beyond tolerance"):
        register(built["st"], name="st9", sample=TEXTS, store=tmp_path, quantize="int8", int8_atol=1e-9)  # fmt: skip


def test_converting_leaves_autograd_as_it_was(store: Path) -> None:
    """The conversion runs without autograd, and gives it back: a notebook that registered a
    model trains the next one (the image example's training failed after a text model)."""
    import torch

    assert LocalStore(store).manifest("bert").parity is not None  # converted in this process
    assert torch.is_grad_enabled()


def test_what_is_refused(built: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(built["bert"], bare)
    (bare / "tokenizer.json").unlink()
    with pytest.raises(ConversionError, match="has no tokenizer.json"):
        register(bare, name="x", sample=TEXTS, store=tmp_path)
    with pytest.raises(ConversionError, match="a sample of texts is required"):
        register(built["bert"], name="x", store=tmp_path)
    with pytest.raises(ConversionError, match="cannot be changed"):
        register(built["st"], name="x", sample=TEXTS, store=tmp_path, pooling="cls")
    with pytest.raises(ConversionError, match="a directory; give the file itself"):
        register(tmp_path, name="x", sample=TEXTS, store=tmp_path / "s")
