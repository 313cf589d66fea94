"""Text models for the front-end tests (issue 25): the TF-IDF and character n-gram pipelines of
tests/model_store/test_sklearn_text.py and the BERT-style (WordPiece) and RoBERTa-style
(byte-level BPE) classifiers and sentence-transformers directory of model_store/example_text.py,
registered in one local store, each with what its original library answers for the texts
below: scikit-learn's `predict_proba`, transformers' text-classification pipeline,
sentence-transformers' `encode`.

A front end's answer is checked against those within the tolerance the registration recorded
(`parity.atol`): `check`. The request forms of POST /predict (and the protocol's infer) that
carry the texts are `FORMS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_store.example_text import sample_texts

# Plain, accented, mixed-case and punctuated texts, and one longer than the transformer
# models read (truncated, as their pipelines do when asked to).
TEXTS = (
    "I love it",
    "terrible, broke in a day",
    "Café au lait: naïve but ÉCOLE-level good",
    "Straße STRASSE",
    "The delivery was late and the product arrived broken, never again!",
    sample_texts()[6],
)
LONG = TEXTS[-1]
NAMES = ("tfidf", "chars", "bert", "roberta", "st")
CLASSIFIERS = ("tfidf", "chars", "bert", "roberta")


@dataclass
class TextModel:
    """A registered text model and what its library answers for each text."""

    name: str  # registered as NAME@1
    library: str  # "scikit-learn", "transformers", "sentence-transformers"
    task: str  # "classification" or "embedding"
    atol: float  # the registration's recorded tolerance
    function: str  # a classifier's function_to_apply: the scores are the outputs after it
    output: str  # the model's output the answer is made from
    labels: tuple[str, ...] = ()
    tokenizer: bool = False  # a tokenizer in the function (else the graph tokenizes)
    reference: dict[str, np.ndarray] = field(default_factory=dict)  # text -> scores or vector

    @property
    def ref(self) -> str:
        return f"{self.name}@1"


@dataclass
class TextModels:
    store: Path
    models: dict[str, TextModel]  # by NAMES
    directories: dict[str, Path]  # the Hugging Face directories, by name


def build(root: Path) -> TextModels:
    """The text models, built with nothing downloaded (the environment given back after)."""
    from model_store.convert.hf import offline

    with offline():
        return _build(root)


def _build(root: Path) -> TextModels:
    """Fit, build and register the five models in ROOT/store (torch exports: a minute or
    so), and compute their libraries' answers."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import pipeline

    from model_store import example_text
    from model_store.api import register
    from tests.model_store.test_sklearn_text import TEXTS as FITTED_ON
    from tests.model_store.test_sklearn_text import pipelines

    torch.set_num_threads(1)
    store = root / "store"
    texts = list(TEXTS)
    sample = [*FITTED_ON, *texts]
    models: dict[str, TextModel] = {}
    for name, fitted in pipelines().items():
        manifest = register(fitted, name=name, sample=sample, store=store).manifest
        assert manifest.parity is not None and manifest.processing is not None
        output = manifest.processing["output"]
        models[name] = TextModel(
            name, "scikit-learn", "classification", manifest.parity.atol,
            output["function_to_apply"], output["output"],
            tuple(str(c) for c in fitted.classes_),
            reference=dict(zip(texts, fitted.predict_proba(texts), strict=True)),
        )  # fmt: skip
    directories = {
        "bert": tuned(example_text.bert_classifier(root / "bert")),
        "roberta": tuned(example_text.roberta_classifier(root / "roberta")),
        "st": example_text.sentence_embedding(root / "st"),
    }
    for name, directory in directories.items():
        manifest = register(directory, name=name, sample=sample, store=store).manifest
        assert manifest.parity is not None and manifest.processing is not None
        output = manifest.processing["output"]
        if name == "st":
            vectors = SentenceTransformer(str(directory), device="cpu").encode(texts)
            models[name] = TextModel(
                name, "sentence-transformers", "embedding", manifest.parity.atol, "none",
                output["output"], tokenizer=True,
                reference=dict(zip(texts, vectors, strict=True)),
            )  # fmt: skip
            continue
        labels = tuple(str(x) for x in manifest.labels or ())
        classify = pipeline("text-classification", model=str(directory), device="cpu", top_k=None)
        answers: Any = classify(texts, truncation=True)
        scores = [np.array([{a["label"]: a["score"] for a in row}[k] for k in labels]) for row in answers]  # fmt: skip
        models[name] = TextModel(
            name, "transformers", "classification", manifest.parity.atol,
            output["function_to_apply"], output["output"], labels, tokenizer=True,
            reference=dict(zip(texts, scores, strict=True)),
        )  # fmt: skip
    return TextModels(store, models, directories)


POSITIVE = {"love", "like", "great", "good", "excellent", "recommend", "worth", "works", "fast"}
NEGATIVE = {"hate", "bad", "awful", "terrible", "broken", "slow", "late", "never", "not"}


def sentiment(text: str, classes: int) -> int:
    """A label by counting positive and negative words: what the classifiers are tuned on."""
    words = [w.strip(".,!?").lower() for w in text.split()]
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    if classes == 2:
        return int(score > 0)
    return 0 if score < 0 else 2 if score > 0 else 1


def tuned(directory: Path, steps: int = 100) -> Path:
    """A classifier directory fine-tuned for a second or two on generated sentences labelled
    by `sentiment`, saved in place: a randomly initialised head scores every text alike (to
    1e-5), which could not tell one text's answer from another's."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from model_store import example_text

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    texts = example_text.corpus(size=400, seed=3)
    labels = torch.tensor([sentiment(t, model.config.num_labels) for t in texts])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(steps):
        batch = torch.randint(0, len(texts), (32,))
        encoded = tokenizer([texts[i] for i in batch], truncation=True, padding=True, return_tensors="pt")  # fmt: skip
        model(**encoded, labels=labels[batch]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval().save_pretrained(directory)
    return directory


@dataclass(frozen=True)
class Form:
    """One request form carrying some of TEXTS, and what its answer is."""

    name: str
    texts: tuple[str, ...]
    single: bool = False  # one text sent alone: the answer is unwrapped (Processing.body)
    top_k: int | None = None  # parameters.top_k sent (the model's default otherwise)
    raw: bool = False  # the answer is the model's outputs (parameters.raw, the protocol)
    classifiers_only: bool = False

    @property
    def path_kind(self) -> str:
        return "oip" if self.name == "oip-json" else "predict"

    def path(self, model: TextModel) -> str:
        return f"/v2/models/{model.name}/infer" if self.name == "oip-json" else "/predict"

    def request(self, model: TextModel) -> tuple[bytes, dict[str, str]]:
        """The body and headers as the form's clients send them."""
        texts = list(self.texts)
        json_type = {"content-type": "application/json"}
        if self.name == "text/plain":
            return texts[0].encode(), {"content-type": "text/plain; charset=utf-8"}
        if self.name == "no-content-type":  # InferenceClient's: JSON, no Content-Type at all
            return json.dumps({"inputs": texts[0], "parameters": {}}).encode(), {}
        if self.name == "instances":  # TF Serving's, by the input's name and bare
            rows = [{"text": t} if i % 2 else t for i, t in enumerate(texts)]
            return json.dumps({"instances": rows}).encode(), json_type
        if self.name == "oip-json":
            tensor = {"name": "text", "shape": [len(texts)], "datatype": "BYTES", "data": texts}
            return json.dumps({"inputs": [tensor]}).encode(), json_type
        params: dict[str, Any] = {}
        if self.top_k is not None:
            params["top_k"] = self.top_k
        if self.raw:
            params["raw"] = True
        if self.name == "parameters":
            params["truncation"] = True
        body: dict[str, Any] = {"inputs": texts[0] if self.single else texts}
        if params:
            body["parameters"] = params
        return json.dumps(body).encode(), json_type


FORMS = (
    Form("inputs", ("I love it",), single=True),
    Form("inputs", TEXTS),
    Form("parameters", TEXTS, top_k=2, classifiers_only=True),
    Form("parameters", (LONG,), single=True, top_k=1, classifiers_only=True),
    Form("parameters", TEXTS),
    Form("instances", TEXTS),
    Form("text/plain", ("Café au lait: naïve but ÉCOLE-level good",), single=True),
    Form("no-content-type", ("terrible, broke in a day",), single=True),
    Form("raw", TEXTS, raw=True),
    Form("oip-json", TEXTS, raw=True),
)


def form_id(form: Form) -> str:
    extra = f"-top{form.top_k}" if form.top_k else ""
    return f"{form.name}{extra}[{'1' if form.single else len(form.texts)}]"


def applies(model: TextModel, form: Form) -> bool:
    return not form.classifiers_only or model.task == "classification"


def check(model: TextModel, form: Form, status: int, body: Any) -> None:
    """A front end's answer to `form` against the library's, within the recorded tolerance."""
    assert status == 200, str(body)[:500]
    texts = list(form.texts)
    if form.name == "oip-json":
        outputs = {o["name"]: o for o in body["outputs"]}
        check_outputs(model, texts, {k: v["data"] for k, v in outputs.items()})
    elif form.raw:
        check_outputs(model, texts, body["outputs"])
    elif model.task == "classification":
        # Hugging Face's text classification: a list of labels per text, one text in a list too.
        answers = body[0] if form.single else body
        assert not form.single or len(body) == 1, body
        check_labels(model, texts, answers if not form.single else [answers], form.top_k)
    else:
        vectors = [body] if form.single else body
        check_vectors(model, texts, vectors)


def check_labels(model: TextModel, texts: list[str], answers: Any, top_k: int | None) -> None:
    """`[{"label", "score"}]` per text: best first, as many as asked (the model's top_k, at
    most 5, by default), each score the library's."""
    assert isinstance(answers, list) and len(answers) == len(texts), str(answers)[:300]
    k = min(top_k or 5, len(model.labels))
    for text, answer in zip(texts, answers, strict=True):
        want = model.reference[text]
        assert isinstance(answer, list) and len(answer) == k, answer
        assert answer[0]["label"] == model.labels[int(np.argmax(want))], (text, answer, want)
        scores = [a["score"] for a in answer]
        assert scores == sorted(scores, reverse=True), answer
        for a in answer:
            assert abs(a["score"] - want[model.labels.index(a["label"])]) <= model.atol, (text, a)


def check_vectors(model: TextModel, texts: list[str], vectors: Any) -> None:
    got = np.asarray(vectors, dtype=np.float64)
    want = np.stack([model.reference[t] for t in texts])
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.abs(got - want).max() <= model.atol, np.abs(got - want).max(axis=1)


def check_outputs(model: TextModel, texts: list[str], outputs: dict[str, Any]) -> None:
    """The model's raw outputs (the protocol, `parameters.raw`): a classifier's scores after
    its function; an embedding model's pooled `embedding` (the protocol) or token embeddings,
    pooled here as the model declares (mean over the tokens of each text)."""
    from functions.predict.processing.labels import apply

    values = np.asarray(outputs[model.output], dtype=np.float64)
    if model.task == "classification":
        got = apply(model.function, values.reshape(len(texts), -1))
        want = np.stack([model.reference[t] for t in texts])
        assert np.abs(got - want).max() <= model.atol, np.abs(got - want).max(axis=1)
        return
    if "embedding" in outputs:  # the protocol's pooled vectors
        check_vectors(model, texts, np.asarray(outputs["embedding"]).reshape(len(texts), -1))
    assert values.ndim in (1, 3) and np.isfinite(values).all()  # token embeddings, padded
