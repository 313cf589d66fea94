"""scikit-learn text pipelines (model_store/convert/sk_text.py): a TF-IDF and a character
n-gram pipeline registered with their tokenizer check, served with Hugging Face's request form
and the tensors' form, answering as scikit-learn does; where skl2onnx's tokenizer differs from
scikit-learn's, the check names the texts and refuses; the issue's CLI repros."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra.cli import main
from model_store.backends.local import LocalStore
from tests.model_store.helpers import CTX, event, fails

TEXTS = [
    "I love it",
    "great product, works really well",
    "terrible, broke in a day",
    "awful service and a late delivery",
    "really good value",
    "bad bad bad",
    "Café au lait: naïve but ÉCOLE-level good",
    "Straße STRASSE",
    "it's not worth it, don't",
    "",
]
LABELS = [1, 1, 0, 0, 1, 0, 1, 0, 0, 1]


def answer(store: Path, ref: str, body: Any, path: str = "/predict") -> tuple[int, Any]:
    from functions.predict.runtime import build

    function = build({"SLIPWAY_STORE": str(store), "SLIPWAY_MODEL": ref, "SLIPWAY_METRICS": "off"})
    response = function(event(body, path=path), CTX)
    return response["statusCode"], json.loads(response["body"])


def pipelines() -> dict[str, Any]:
    """A TF-IDF (word 1-2 grams) and a character 2-4 gram pipeline fitted on TEXTS (also
    served by every front end: tests/text_models.py)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LogisticRegression())
    chars = make_pipeline(
        CountVectorizer(analyzer="char", ngram_range=(2, 4)), LogisticRegression()
    )
    return {"tfidf": tfidf.fit(TEXTS, LABELS), "chars": chars.fit(TEXTS, LABELS)}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import joblib
    import pandas as pd

    d = tmp_path_factory.mktemp("text")
    made = pipelines()
    tfidf, chars = made["tfidf"], made["chars"]
    for name, model in made.items():
        joblib.dump(model, d / f"{name}.joblib")
    pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS}).to_csv(d / "sample.csv", index=False)
    (d / "sample.txt").write_text("\n".join(TEXTS) + "\n")
    (d / "sample.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    np.save(d / "objects.npy", np.array(TEXTS, dtype=object), allow_pickle=True)
    (d / "spaces.txt").write_text("bad bad bad\nI  love  it\n")
    return {"dir": d, "tfidf": tfidf, "chars": chars}


def _register(d: Path, model: str, sample: str, *extra: str) -> list[str]:
    return ["register", str(d / model), "--name", model.split(".")[0], "--sample", str(d / sample), "--store", str(d / "store"), *extra]  # fmt: skip


def test_tfidf_pipeline_registers_from_a_csv_column_and_answers_as_scikit_learn(
    fitted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's repro: `slipway register text.joblib --sample text_sample.csv` (a text
    column) was refused with 'TfidfVectorizer takes numbers'."""
    d = fitted["dir"]
    assert main(_register(d, "tfidf.joblib", "sample.csv", "--text-column", "text")) == 0
    out = capsys.readouterr().out
    assert "tfidf@1 registered" in out and "parity" in out
    manifest = LocalStore(d / "store").manifest("tfidf")
    assert [(i.name, i.dtype) for i in manifest.inputs] == [("text", "str")]
    assert manifest.parity is not None and manifest.parity.passed
    tokenizer = (manifest.parity.checks or {})["tokenizer"]
    assert tokenizer["mismatches"] == 0 and tokenizer["texts"] == len(TEXTS)
    assert tokenizer["probe_differences"] == []  # Unicode words, lowercase: as scikit-learn
    assert manifest.processing and manifest.processing["input"] == {"kind": "text", "name": "text"}
    model = fitted["tfidf"]
    probabilities = model.predict_proba(TEXTS)
    status, body = answer(d / "store", "tfidf@1", {"inputs": TEXTS, "parameters": {"top_k": 2}})
    assert status == 200
    for row, want in zip(body, probabilities, strict=True):
        best = int(np.argmax(want))
        assert row[0]["label"] == str(model.classes_[best])
        assert row[0]["score"] == pytest.approx(want[best], abs=1e-5)
    status, single = answer(d / "store", "tfidf@1", {"inputs": "I love it"})
    assert status == 200 and single[0][0]["label"] == str(model.predict(["I love it"])[0])
    status, raw = answer(d / "store", "tfidf@1", {"instances": [{"text": "bad"}], "parameters": {"raw": True}})  # fmt: skip
    assert status == 200
    np.testing.assert_allclose(
        raw["outputs"]["probabilities"], model.predict_proba(["bad"]), atol=1e-5
    )


@pytest.mark.parametrize("sample", ["sample.txt", "sample.jsonl"])
def test_text_samples_as_txt_and_jsonl(
    fitted: dict[str, Any], sample: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = fitted["dir"]
    argv = _register(d, "tfidf.joblib", sample)
    argv[argv.index("--store") + 1] = str(d / f"store-{sample}")
    assert main(argv) == 0, capsys.readouterr().err
    manifest = LocalStore(d / f"store-{sample}").manifest("tfidf")
    assert manifest.parity is not None and manifest.parity.samples == len(TEXTS)


def test_char_ngrams_differ_on_runs_of_white_space_and_are_refused_there(
    fitted: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    d = fitted["dir"]
    assert main(_register(d, "chars.joblib", "sample.txt")) == 0
    err = capsys.readouterr().err
    # Not in the sample, found on the probes: recorded and shown.
    assert "warning: the ONNX tokenizer differs" in err
    manifest = LocalStore(d / "store").manifest("chars")
    probes = (manifest.parity.checks or {})["tokenizer"]["probe_differences"]  # type: ignore[union-attr]
    assert probes and all("  " in p["text"] for p in probes)  # the sample's texts, spaces doubled
    assert "great  product,  works  really  well" in [p["text"] for p in probes]
    line = fails(_register(d, "chars.joblib", "spaces.txt"), capsys)
    assert "tokenizes 1 of the 2 sample texts differently from the CountVectorizer" in line
    assert "'I  love  it' (only scikit-learn: [" in line and "collapses runs of white space" in line


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("objects.npy", "texts in a .npy must be a string array, np.save(path, np.array(texts, dtype=str))"),
        ("missing.csv", "sample {d}/missing.csv does not exist; check the path"),
        ("sample.csv", ""),  # no --text-column: its column 'text' is taken
    ],
)  # fmt: skip
def test_the_issues_cli_repros_are_one_line(
    fitted: dict[str, Any], sample: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = fitted["dir"]
    if sample == "sample.csv":  # two columns, one named text: that one, no error
        argv = _register(d, "tfidf.joblib", sample)
        argv[argv.index("--store") + 1] = str(d / "store-csv")
        assert main(argv) == 0
        argv += ["--text-column", "body"]
        assert "the sample has no column 'body'" in fails(argv, capsys)
        return
    assert expected.format(d=d) in fails(_register(d, "tfidf.joblib", sample), capsys)
