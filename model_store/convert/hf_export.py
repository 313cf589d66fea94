"""A Hugging Face transformer directory to ONNX, with its tokenizer as an asset and parity
measured on Slipway's served path.

The exporter is torch.onnx's (torch.export-based, `dynamo=True`), the one Slipway already uses
for PyTorch modules: it is PyTorch's maintained exporter, needs nothing beyond torch, and its
dynamic shapes give the graph a free batch and sequence axis. optimum's ONNX exporter
(optimum-onnx) pins transformers below 5, which sentence-transformers 6 needs.

Parity runs the version as it will be served: the stored tokenizer.json through TextInput,
the ONNX session, then the output processing (functions/predict/processing), against the
transformers model on its own tokenizer's encodings (and sentence-transformers' `encode` for
such a directory). The tokens must match exactly; the outputs within the tolerance.
The float graph is served with onnxruntime's fused operators (attention, skip layer norm, bias
Gelu: hf_graph.fused, recorded in the parity checks as "fusions").
`quantize="int8"` converts the weights with onnxruntime's dynamic quantization and records its
difference to the float model, refused beyond `int8_atol`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from model_store.assets import listing
from model_store.convert import hf, hf_graph
from model_store.convert.base import Converted, Exported, finish, version_of
from model_store.convert.failure import short
from model_store.convert.parity import compare
from model_store.convert.torch import quiet
from model_store.exceptions import ConversionError, ParityError
from model_store.manifest import Manifest, Parity
from model_store.tolerances import DEFAULT_INT8_ATOL

P = ParamSpec("P")
R = TypeVar("R")

QUANTIZATIONS = ("int8",)
# Texts per batch in the parity runs: padded per batch, as served.
PARITY_BATCH = 16
_ROLES = ("input_ids", "attention_mask", "token_type_ids")


def _without_grad(fn: Callable[P, R]) -> Callable[P, R]:
    """`fn` run under torch.no_grad(): autograd off for the conversion only (setting it off
    for the process would break a notebook's training after it registered a model)."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        import torch

        with torch.no_grad():
            return fn(*args, **kwargs)

    return run


@hf.offline()  # nothing is downloaded while a directory is converted
@_without_grad
def export(
    path: Path,
    texts: Sequence[str],
    *,
    name: str,
    atol: float,
    rtol: float,
    opset: int | None = None,
    description: str = "",
    pooling: str | None = None,
    task: str | None = None,
    quantize: str | None = None,
    int8_atol: float = DEFAULT_INT8_ATOL,
) -> Converted:
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ConversionError(f"quantize {quantize!r}: use one of {list(QUANTIZATIONS)}")
    if not texts:
        raise ConversionError("a sample of texts is required: parity is checked on them")
    directory = hf.read(path, pooling=pooling, task=task)
    model = _load(directory)
    roles = [r for r in _ROLES if r != "token_type_ids" or _takes(model, r)]
    output = "logits" if directory.task == hf.CLASSIFICATION else "last_hidden_state"
    processing = _processing(directory, roles, output)
    assets = {hf.TOKENIZER: directory.tokenizer}
    exported = _to_onnx(model, roles, output, _example(directory, texts), opset)
    checks: dict[str, Any] = {}
    if quantize:  # int8 of the graph as exported (hf_graph: the fused one quantizes worse)
        float_data, data = exported, hf_graph.int8(exported)
    else:
        data, checks["fusions"] = hf_graph.fused(exported)
        float_data = data
    draft = _draft(directory, data, name, description, processing, assets, texts)
    served = _served(data, draft, assets, texts)
    checks["tokens"] = _check_tokens(directory, texts, served)
    bound = int8_atol if quantize else atol
    parities = _against_references(
        directory, model, texts, served, bound, 0.0 if quantize else rtol
    )
    if quantize:
        float_draft = dataclasses.replace(draft, sha256=_sha(float_data))
        floats = _served(float_data, float_draft, assets, texts)
        parities["float model"] = _compare(floats, served, int8_atol, 0.0)
        checks["int8"] = _int8_report(floats, served, float_data, data, int8_atol)
    for reference, parity in parities.items():
        checks[reference] = _summary(parity)
    parity = _combined(parities, bound, 0.0 if quantize else rtol, checks)
    if not parity.passed:
        worst = max(parities, key=lambda k: parities[k].max_abs_diff)
        raise ParityError(
            f"model {name}: Slipway's served path (tokenizer.json, ONNX{' int8' if quantize else ''}"
            f", {directory.task} output) differs from {worst} beyond tolerance (max abs diff "
            f"{parities[worst].max_abs_diff:.3g}; atol={bound}"
            f"{'' if quantize else f', rtol={rtol}'}). Conversion refused."
            + (" Raise the bound with --int8-atol only if that is acceptable." if quantize else "")
        )
    manifest = dataclasses.replace(draft, parity=parity)
    return Converted(data=data, manifest=manifest, assets=assets)


def _load(directory: hf.Directory) -> Any:
    from transformers import AutoModel, AutoModelForSequenceClassification

    loader = (
        AutoModelForSequenceClassification if directory.task == hf.CLASSIFICATION else AutoModel
    )
    try:
        with quiet():
            model = loader.from_pretrained(directory.path, local_files_only=True)
    except Exception as exc:  # transformers raises OSError, ValueError, RuntimeError…
        raise ConversionError(
            f"transformers could not load {directory.path} ({type(exc).__name__}: "
            f"{short(str(exc))}); save it with model.save_pretrained(path)"
        ) from exc
    return model.eval()


def _takes(model: Any, role: str) -> bool:
    return role in inspect.signature(model.forward).parameters


def _processing(directory: hf.Directory, roles: list[str], output: str) -> dict[str, Any]:
    pad_id, pad_token = hf.pad_token(directory)
    text = {
        "kind": "text",
        "tokenizer": hf.TOKENIZER,
        "max_length": directory.max_length,
        "inputs": {role: role for role in roles},
        "pad_id": pad_id,
        "pad_token": pad_token,
    }
    if directory.task == hf.CLASSIFICATION:
        labels = directory.labels or ()
        answer: dict[str, Any] = {
            "task": hf.CLASSIFICATION,
            "output": output,
            "function_to_apply": directory.function_to_apply,
            "top_k": min(5, len(labels)) or 1,
        }
    else:
        answer = {
            "task": hf.EMBEDDING,
            "output": output,
            "pooling": directory.pooling,
            "normalize": directory.normalize,
        }
    return {"input": text, "output": answer}


def _example(directory: hf.Directory, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Inputs to export with: at least 2 texts of at least 2 tokens (torch.export fixes an
    axis whose example size is 0 or 1)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(directory.tokenizer.decode())
    tokenizer.enable_truncation(directory.max_length)
    pad_id, pad_token = hf.pad_token(directory)
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)
    chosen = list(texts[:4]) if len(texts) > 1 else [texts[0], texts[0]]
    encodings = tokenizer.encode_batch(chosen)
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    if ids.shape[1] < 2:
        ids = np.pad(ids, ((0, 0), (0, 2 - ids.shape[1])), constant_values=pad_id)
        mask = np.pad(mask, ((0, 0), (0, 2 - mask.shape[1])))
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _to_onnx(
    model: Any, roles: list[str], output: str, example: Mapping[str, np.ndarray], opset: int | None
) -> bytes:
    import torch

    class Forward(torch.nn.Module):
        """The model as a function of its inputs, by position, giving the one output."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            out = self.model(**dict(zip(roles, tensors, strict=True)))
            return out[output]  # type: ignore[no-any-return]

    args = tuple(torch.from_numpy(example[r]) for r in roles)
    length = int(example["input_ids"].shape[1])
    batch = torch.export.Dim("batch", min=1)
    sequence = torch.export.Dim(
        "sequence", min=1, max=max(length, model.config.max_position_embeddings)
    )
    try:
        with quiet():
            program = torch.onnx.export(
                Forward(),
                args,
                input_names=roles,
                output_names=[output],
                dynamic_shapes=(tuple({0: batch, 1: sequence} for _ in roles),),
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
    except Exception as exc:  # the exporter raises many kinds of errors
        raise ConversionError(
            f"torch.onnx could not export the {type(model).__name__}: {type(exc).__name__}: "
            f"{short(str(exc))}; try another version of transformers or torch, or export to "
            "ONNX yourself and register the .onnx file"
        ) from exc
    if program is None:
        raise ConversionError("torch.onnx returned no program")
    return program.model_proto.SerializeToString()  # type: ignore[no-any-return]


def _sha(data: bytes) -> str:
    from model_store.manifest import sha256_hex

    return sha256_hex(data)


def _draft(
    directory: hf.Directory,
    data: bytes,
    name: str,
    description: str,
    processing: dict[str, Any],
    assets: Mapping[str, bytes],
    texts: Sequence[str],
) -> Manifest:
    import torch
    import transformers

    libraries = {"transformers": transformers.__version__, "torch": torch.__version__}
    libraries["tokenizers"] = version_of("tokenizers")
    if directory.sentence_transformers:
        libraries["sentence-transformers"] = version_of("sentence-transformers")
    classifier = directory.task == hf.CLASSIFICATION
    exported = Exported(
        data=data,
        framework="transformers",
        framework_version=transformers.__version__,
        libraries=libraries,
        kind="classifier" if classifier else "generic",
        labels=directory.labels,
        reference=None,
        feeds=None,
    )
    manifest = finish(exported, name=name, description=description).manifest
    return dataclasses.replace(
        manifest,
        processing=processing,
        assets=listing(assets),
        example={"inputs": texts[0]},
    )


def _served(
    data: bytes, manifest: Manifest, assets: Mapping[str, bytes], texts: Sequence[str]
) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    """(feeds, the answer's numbers) per batch, as the prediction function computes them: the
    logits of a classifier, the pooled vectors of an embedding model."""
    from functions.predict.config import Settings
    from functions.predict.processing import build
    from model_store.loader import load_model

    settings = Settings(max_texts=PARITY_BATCH, max_text_chars=max(len(t) for t in texts) + 1)
    model = load_model(data, manifest)
    processing = build(manifest, assets, settings)
    assert processing is not None  # the manifest has processing
    out = []
    for start in range(0, len(texts), PARITY_BATCH):
        feeds = processing.input.feeds(list(texts[start : start + PARITY_BATCH]), {})
        results = model.run(feeds)
        pooled = getattr(processing.output, "pooled", None)
        numbers = pooled(results, feeds, {}) if pooled else results[0]
        out.append((feeds, np.asarray(numbers, dtype=np.float32)))
    return out


def _check_tokens(
    directory: hf.Directory, texts: Sequence[str], served: list[tuple[dict[str, np.ndarray], Any]]
) -> dict[str, int]:
    """The served tokenizer (tokenizer.json by `tokenizers`) against transformers' own."""
    tokenizer = _auto_tokenizer(directory)
    for start, (feeds, _) in zip(range(0, len(texts), PARITY_BATCH), served, strict=True):
        batch = list(texts[start : start + PARITY_BATCH])
        want = tokenizer(batch, truncation=True, max_length=directory.max_length)["input_ids"]
        for i, ids in enumerate(want):
            got = feeds["input_ids"][i][feeds["attention_mask"][i] == 1].tolist()
            if got != list(ids):
                raise ParityError(
                    f"text {start + i} ({batch[i][:60]!r}) is tokenized differently by "
                    f"tokenizer.json ({tokenizer.convert_ids_to_tokens(got)[:12]}) than by "
                    f"transformers ({tokenizer.convert_ids_to_tokens(list(ids))[:12]}); save the "
                    "tokenizer with save_pretrained so that tokenizer.json holds its settings"
                )
    return {"texts": len(texts), "mismatches": 0}


def _auto_tokenizer(directory: hf.Directory) -> Any:
    from transformers import AutoTokenizer

    with quiet():
        return AutoTokenizer.from_pretrained(directory.path, local_files_only=True)


def _against_references(
    directory: hf.Directory,
    model: Any,
    texts: Sequence[str],
    served: list[tuple[dict[str, np.ndarray], np.ndarray]],
    atol: float,
    rtol: float,
) -> dict[str, Parity]:
    import torch

    tokenizer = _auto_tokenizer(directory)
    want = []
    for start in range(0, len(texts), PARITY_BATCH):
        batch = list(texts[start : start + PARITY_BATCH])
        encoded = tokenizer(
            batch,
            truncation=True,
            max_length=directory.max_length,
            padding=True,
            return_tensors="pt",
        )
        out = model(**encoded)
        if directory.task == hf.CLASSIFICATION:
            want.append(out.logits.numpy())
        else:
            want.append(_pool(directory, out.last_hidden_state, encoded["attention_mask"], torch))
    parities = {"transformers": _compare_lists(want, [n for _, n in served], atol, rtol)}
    if directory.sentence_transformers:
        from sentence_transformers import SentenceTransformer

        with quiet():
            encoder = SentenceTransformer(str(directory.path), device="cpu", local_files_only=True)
            vectors = encoder.encode(list(texts), batch_size=PARITY_BATCH, convert_to_numpy=True)
        got = np.concatenate([n for _, n in served])
        parities["sentence-transformers"] = compare(
            {"embedding": vectors}, {"embedding": got}, atol=atol, rtol=rtol
        )
    return parities


def _pool(directory: hf.Directory, hidden: Any, mask: Any, torch: Any) -> np.ndarray:
    """The reference pooling, in torch as sentence-transformers computes it."""
    if directory.pooling == "cls":
        vectors = hidden[:, 0]
    elif directory.pooling == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        vectors = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    else:
        vectors = hidden
    if directory.normalize:
        vectors = torch.nn.functional.normalize(vectors, p=2, dim=-1)
    return np.asarray(vectors.numpy())


def _compare_lists(
    want: list[np.ndarray], got: list[np.ndarray], atol: float, rtol: float
) -> Parity:
    """Batches compared one by one (token embeddings pad to each batch's longest)."""
    results = [
        compare({"output": w}, {"output": g}, atol=atol, rtol=rtol)
        for w, g in zip(want, got, strict=True)
    ]
    return Parity(
        max_abs_diff=max(p.max_abs_diff for p in results),
        max_rel_diff=max(p.max_rel_diff for p in results),
        atol=atol,
        rtol=rtol,
        samples=sum(p.samples for p in results),
        passed=all(p.passed for p in results),
    )


def _compare(
    want: list[tuple[Any, np.ndarray]], got: list[tuple[Any, np.ndarray]], atol: float, rtol: float
) -> Parity:
    return _compare_lists([n for _, n in want], [n for _, n in got], atol, rtol)


def _int8_report(
    floats: list[tuple[Any, np.ndarray]],
    ints: list[tuple[Any, np.ndarray]],
    float_data: bytes,
    data: bytes,
    bound: float,
) -> dict[str, Any]:
    """How far the int8 model is from the float one: the largest difference, the rows whose
    best class changes (a classifier) or the lowest cosine similarity (vectors), the sizes."""
    a = np.concatenate([n.reshape(len(n), -1) for _, n in floats]).astype(np.float64)
    b = np.concatenate([n.reshape(len(n), -1) for _, n in ints]).astype(np.float64)
    cosine = (a * b).sum(1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12
    )
    return {
        "method": "onnxruntime dynamic quantization, int8 weights",
        "bound": bound,
        "max_abs_diff": float(np.abs(a - b).max()),
        "argmax_changes": int((a.argmax(1) != b.argmax(1)).sum()),
        "min_cosine": float(cosine.min()),
        "float_size_bytes": len(float_data),
        "int8_size_bytes": len(data),
    }


def _summary(parity: Parity) -> dict[str, Any]:
    return {
        "max_abs_diff": parity.max_abs_diff,
        "max_rel_diff": parity.max_rel_diff,
        "samples": parity.samples,
        "passed": parity.passed,
    }


def _combined(
    parities: Mapping[str, Parity], atol: float, rtol: float, checks: Mapping[str, Any]
) -> Parity:
    return Parity(
        max_abs_diff=max(p.max_abs_diff for p in parities.values()),
        max_rel_diff=max(p.max_rel_diff for p in parities.values()),
        atol=atol,
        rtol=rtol,
        samples=max(p.samples for p in parities.values()),
        passed=all(p.passed for p in parities.values()),
        checks=dict(checks),
    )
