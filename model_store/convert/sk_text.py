"""scikit-learn text pipelines (CountVectorizer / TfidfVectorizer, then any estimator skl2onnx
converts) fitted on strings, to ONNX with one string input, `text`, of shape (rows, 1).

skl2onnx's graph tokenizes with onnxruntime's StringNormalizer (lowercase) and Tokenizer (RE2
regular expressions), not Python's `re` and `str.lower`. Where they differ, and what is done:

- the default token pattern `(?u)\\b\\w\\w+\\b` is Unicode; skl2onnx replaces it with the
  ASCII `[a-zA-Z0-9_]+`, which drops "café" and keeps one-letter words that scikit-learn drops
  (so word n-grams across them differ). Slipway gives RE2 `[\\p{L}\\p{N}_]{2,}`, the same
  characters as Python's `\\w` (every code point checked), runs of two or more;
- StringNormalizer lowercases in the locale en_US.UTF-8 unless told, which a minimal Linux
  (Lambda's, a slim image) does not have: the session fails to load. Slipway gives C.UTF-8
  (built into glibc), which lowercases the whole of Unicode as `str.lower` does;
- `analyzer="char"` n-grams: scikit-learn first collapses runs of white space into one space;
  the graph does not, so a text with two spaces in a row gets other n-grams. No option fixes
  this: the parity check shows it and refuses a sample that has such texts;
- `analyzer="char_wb"`, `strip_accents`, a custom preprocessor or tokenizer: skl2onnx refuses
  them (a ConversionError naming the step).

The check: each vectorizer alone is converted as in the pipeline and run on the sample's texts
and on probe texts (accents, other scripts, one-letter words, white space, and the sample's
own texts in upper case and with doubled spaces); every text whose vector differs is named
with the terms each side found. A difference on the sample is refused;
one only on the probes is recorded in the manifest (parity.checks) and shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model_store.exceptions import ConversionError, ParityError

INPUT = "text"
LOCALE = "C.UTF-8"
# Python's \w (Unicode letters, numbers, underscore), two or more: scikit-learn's default.
WORDS = r"[\p{L}\p{N}_]{2,}"
DEFAULT_PATTERN = r"(?u)\b\w\w+\b"
PROBES = (
    "Café au lait, naïve ÉCOLE école",
    "Straße STRASSE",
    "ΑΘΗΝΑ αθηνα",
    "日本語のテキスト",
    "snake_case 42 numbers and a b c x",
    "it's don't I'm",
    "two  spaces,\ttab and\nnew line",
    "MiXeD CaSe",
    "",
)
_SHOWN = 3  # differing texts a message names
_TERMS = 8  # terms named per side


def vectorizers(model: Any) -> list[Any]:
    """The CountVectorizer/TfidfVectorizer steps of `model` (at any depth)."""
    from sklearn.feature_extraction.text import CountVectorizer

    found: list[Any] = []
    stack = [model]
    while stack:
        est = stack.pop()
        if isinstance(est, CountVectorizer):  # TfidfVectorizer is one too
            found.append(est)
            continue
        if hasattr(est, "steps"):
            stack.extend(step for _, step in est.steps)
        elif hasattr(est, "transformers_"):
            stack.extend(t for _, t, _ in est.transformers_)
        elif hasattr(est, "transformer_list"):
            stack.extend(t for _, t in est.transformer_list)
    return found


def takes_text(model: Any) -> bool:
    """A pipeline whose first step is a vectorizer: it is fitted on strings, one per row."""
    from sklearn.feature_extraction.text import CountVectorizer

    first = model.steps[0][1] if hasattr(model, "steps") and model.steps else model
    return isinstance(first, CountVectorizer)


def options(model: Any) -> dict[int, dict[str, Any]]:
    """skl2onnx's options for each vectorizer in `model` (see the module's docstring)."""
    out: dict[int, dict[str, Any]] = {}
    for vec in vectorizers(model):
        given: dict[str, Any] = {"locale": LOCALE}
        if vec.analyzer == "word" and vec.token_pattern == DEFAULT_PATTERN:
            given["tokenexp"] = WORDS
        out[id(vec)] = given
    return out


def texts_array(texts: Sequence[str]) -> np.ndarray:
    return np.array(list(texts), dtype=object).reshape(-1, 1)


def check_tokenizers(model: Any, texts: Sequence[str], opset: int | None) -> dict[str, Any]:
    """Compare each vectorizer with its conversion on `texts` and the probes; refuse a
    difference on `texts`, return what was found (for parity.checks)."""
    report: dict[str, Any] = {"texts": len(texts), "mismatches": 0, "probe_differences": []}
    if not takes_text(model):
        return report
    vec = model.steps[0][1]
    on_sample = _differences(vec, texts, opset)
    if on_sample:
        raise ParityError(
            f"the ONNX graph tokenizes {len(on_sample)} of the {len(texts)} sample texts "
            f"differently from the {type(vec).__name__}: {_describe(on_sample)}. "
            f"{_why(vec)}Conversion refused."
        )
    probes = _differences(vec, probe_texts(texts), opset)
    report["probe_differences"] = [
        {"text": text, "only scikit-learn": only_sk, "only onnx": only_ox}
        for text, only_sk, only_ox in (_only(*found) for found in probes)
    ]
    return report


def _only(text: str, sk: list[str], ox: list[str]) -> tuple[str, list[str], list[str]]:
    """The terms one side found and the other did not (both empty: the same terms with other
    counts or weights)."""
    return text, [t for t in sk if t not in ox][:_TERMS], [t for t in ox if t not in sk][:_TERMS]


def probe_texts(texts: Sequence[str], per_kind: int = 20) -> list[str]:
    """PROBES, and the sample's own texts changed where the two tokenizers may part: in upper
    case (lowercasing), with their spaces doubled (white space). Made of the sample's words,
    they hit the vocabulary, where a difference changes the answer."""
    with_spaces = [t for t in texts if " " in t][:per_kind]
    derived = [t.upper() for t in texts[:per_kind]] + [t.replace(" ", "  ") for t in with_spaces]
    return list(dict.fromkeys([*PROBES, *derived]))


def warning(report: dict[str, Any], vec_name: str = "vectorizer") -> str | None:
    found = report.get("probe_differences") or []
    if not found:
        return None
    shown = "; ".join(
        f"{d['text'][:60]!r}: only scikit-learn {d['only scikit-learn']}, only ONNX {d['only onnx']}"
        for d in found[:_SHOWN]
    )
    return (
        f"the ONNX tokenizer differs from the {vec_name}'s on {len(found)} probe texts not in the "
        f"sample ({shown}); requests like them will be answered differently"
    )


def _differences(
    vec: Any, texts: Sequence[str], opset: int | None
) -> list[tuple[str, list[str], list[str]]]:
    """(text, scikit-learn's terms, the graph's terms) for every text whose vectors differ."""
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    if not texts:
        return []
    try:
        onx = to_onnx(
            vec,
            initial_types=[(INPUT, StringTensorType([None, 1]))],
            options={id(vec): options(vec)[id(vec)]},
            target_opset=opset,
        )
        session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
        got = np.asarray(session.run(None, {INPUT: texts_array(texts)})[0])
    except Exception as exc:  # skl2onnx and onnxruntime raise many kinds of errors
        raise ConversionError(
            f"the {type(vec).__name__} could not be converted and run alone "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''})"
        ) from exc
    want = np.asarray(vec.transform(list(texts)).toarray())
    names = [str(n) for n in vec.get_feature_names_out()]
    out = []
    for i, text in enumerate(texts):
        if not np.allclose(want[i], got[i], rtol=1e-4, atol=1e-6):
            sk = [names[j] for j in np.flatnonzero(want[i])]
            ox = [names[j] for j in np.flatnonzero(got[i])]
            out.append((text, sk, ox))
    return out


def _describe(found: list[tuple[str, list[str], list[str]]]) -> str:
    parts = []
    for text, only_sk, only_ox in (_only(*f) for f in found[:_SHOWN]):
        parts.append(
            f"{text[:60]!r} (only scikit-learn: {only_sk or 'none'}; only ONNX: "
            f"{only_ox or 'none'}; other weights when both are none)"
        )
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    return "; ".join(parts) + more


def _why(vec: Any) -> str:
    if vec.analyzer == "char":
        return (
            "For character n-grams scikit-learn collapses runs of white space into one space "
            "and the graph does not: collapse them in the texts before fitting and sending. "
        )
    if vec.token_pattern != DEFAULT_PATTERN:
        return (
            f"Its token_pattern {vec.token_pattern!r} runs in RE2 in the graph, not Python's re: "
            "use a pattern both read alike, or the default. "
        )
    return ""
