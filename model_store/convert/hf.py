"""A Hugging Face transformer directory (`save_pretrained`: config.json, weights,
tokenizer.json) read for conversion: which task it serves, how its texts are tokenized and
how its outputs become an answer, as the manifest's `processing` records them.

- a sequence classifier (`*ForSequenceClassification`): labels from `id2label`, softmax or
  sigmoid as `problem_type` (and transformers' pipeline) say;
- a sentence-transformers directory (modules.json: Transformer, Pooling, optional Normalize):
  its pooling (mean or CLS) and normalisation;
- any other model: feature extraction, pooled as asked (mean by default).

Only local files are read: transformers and sentence-transformers run offline here.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_store.exceptions import ConversionError

TOKENIZER = "tokenizer.json"
CLASSIFICATION, EMBEDDING = "classification", "embedding"
POOLINGS = ("mean", "cls", "none")
# tokenizer_config.json's "no limit" (transformers' VERY_LARGE_INTEGER is ~1e30).
_NO_LIMIT = 1_000_000
# Position embeddings that start after the padding index (RoBERTa's family): max_length is
# max_position_embeddings - pad_token_id - 1.
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "longformer", "bart", "mpnet")


def is_transformers_dir(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


@dataclass(frozen=True)
class Directory:
    """What a transformer directory declares, read once."""

    path: Path
    task: str  # CLASSIFICATION | EMBEDDING
    config: Any  # transformers' PretrainedConfig
    sentence_transformers: bool
    pooling: str  # embedding: mean | cls | none
    normalize: bool
    max_length: int
    tokenizer: bytes  # tokenizer.json as it is in the directory

    @property
    def labels(self) -> tuple[str, ...] | None:
        if self.task != CLASSIFICATION:
            return None
        id2label = self.config.id2label or {}
        return tuple(str(id2label.get(i, f"LABEL_{i}")) for i in range(self.config.num_labels))

    @property
    def function_to_apply(self) -> str:
        """As transformers' text-classification pipeline chooses it."""
        if self.config.problem_type == "multi_label_classification" or self.config.num_labels == 1:
            return "sigmoid"
        return "softmax"


_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Nothing is downloaded while a directory is read and converted: its files are all there
    is. The environment is given back afterwards: registering from a notebook must not leave
    its huggingface_hub (or a child process it starts) offline."""
    saved = {key: os.environ.get(key) for key in _OFFLINE}
    os.environ.update(_OFFLINE)
    try:
        try:
            from transformers.utils import logging as hf_logging
        except ImportError:  # the text extra is not installed: the next import names it
            pass
        else:
            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def read(path: Path, *, pooling: str | None = None, task: str | None = None) -> Directory:
    """The directory's task and processing; ConversionError naming what is missing."""
    from transformers import AutoConfig

    tokenizer_path = path / TOKENIZER
    if not tokenizer_path.is_file():
        raise ConversionError(
            f"{path} has no {TOKENIZER}: save the tokenizer beside the model with "
            "tokenizer.save_pretrained(path) (a fast tokenizer writes tokenizer.json)"
        )
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except Exception as exc:  # transformers raises ValueError, OSError, KeyError…
        raise ConversionError(
            f"{path}/config.json is not a transformers config transformers can read "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from exc
    modules = _sentence_modules(path)
    architectures = [str(a) for a in (config.architectures or [])]
    found_task = (
        CLASSIFICATION
        if any(a.endswith("ForSequenceClassification") for a in architectures) and not modules
        else EMBEDDING
    )
    if task is not None and task != found_task:
        raise ConversionError(
            f"{path} is a {found_task} model ({', '.join(architectures) or 'no architectures'}"
            f"{', sentence-transformers' if modules else ''}), not {task}"
        )
    declared_pooling, normalize = _pooling(path, modules) if modules else ("mean", False)
    if pooling is not None and modules and pooling != declared_pooling:
        raise ConversionError(
            f"{path} is a sentence-transformers directory with {declared_pooling} pooling; "
            "its pooling cannot be changed (leave --pooling out)"
        )
    if pooling is not None and pooling not in POOLINGS:
        raise ConversionError(f"pooling {pooling!r}: use one of {list(POOLINGS)}")
    if pooling is not None and found_task == CLASSIFICATION:
        raise ConversionError("--pooling applies to embedding models, not to a classifier")
    return Directory(
        path=path,
        task=found_task,
        config=config,
        sentence_transformers=bool(modules),
        pooling=pooling or declared_pooling,
        normalize=normalize,
        max_length=_max_length(path, config),
        tokenizer=tokenizer_path.read_bytes(),
    )


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{path} is not JSON Slipway can read ({exc})") from exc


def _sentence_modules(path: Path) -> list[tuple[str, str]]:
    """(kind, path) of a sentence-transformers directory's modules; [] for any other."""
    file = path / "modules.json"
    if not file.is_file():
        return []
    modules = [(str(m["type"]).rsplit(".", 1)[-1], str(m.get("path", ""))) for m in _json(file)]
    kinds = [k for k, _ in modules]
    if not kinds or kinds[0] != "Transformer" or modules[0][1]:
        raise ConversionError(
            f"{path}/modules.json: Slipway serves a Transformer module stored in the directory "
            f"itself, then Pooling and an optional Normalize; this one has {kinds}"
        )
    if kinds[1:] not in (["Pooling"], ["Pooling", "Normalize"]):
        raise ConversionError(
            f"{path}/modules.json has modules {kinds}: Slipway serves Transformer, Pooling and "
            "an optional Normalize (a Dense or other module after them is not served)"
        )
    settings = path / "config_sentence_transformers.json"
    prompt = _json(settings).get("default_prompt_name") if settings.is_file() else None
    if prompt:
        raise ConversionError(
            f"{path} prepends the prompt {prompt!r} to every text by default; Slipway does not "
            "serve prompts: save the model with default_prompt_name None"
        )
    return modules


def _pooling(path: Path, modules: list[tuple[str, str]]) -> tuple[str, bool]:
    """(mean | cls, normalize) from the Pooling module's config (either generation of it)."""
    pooling_path = path / modules[1][1] / "config.json"
    config = _json(pooling_path)
    mode = config.get("pooling_mode")
    if mode is None:  # sentence-transformers < 5: one flag per mode
        flags = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
        names = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
        mode = names.get(flags[0], flags[0]) if len(flags) == 1 else "+".join(flags) or "none"
    if mode not in ("mean", "cls"):
        raise ConversionError(
            f"{pooling_path}: pooling {mode!r}; Slipway pools mean or cls (first token)"
        )
    if config.get("include_prompt") is False:
        raise ConversionError(f"{pooling_path}: include_prompt false is not served")
    return str(mode), any(kind == "Normalize" for kind, _ in modules)


def _max_length(path: Path, config: Any) -> int:
    """The most tokens a text may have: the tokenizer's, the model's positions, and
    sentence-transformers' max_seq_length, the least of them."""
    found: list[int] = []
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        offset = 0
        if config.model_type in _OFFSET_POSITIONS and config.pad_token_id is not None:
            offset = int(config.pad_token_id) + 1
        found.append(positions - offset)
    for name, key in (
        ("tokenizer_config.json", "model_max_length"),
        ("sentence_bert_config.json", "max_seq_length"),
    ):
        file = path / name
        if file.is_file():
            value = _json(file).get(key)
            if isinstance(value, int | float) and 0 < value < _NO_LIMIT:
                found.append(int(value))
    if not found:
        raise ConversionError(
            f"{path}: no maximum length (max_position_embeddings in config.json, "
            "model_max_length in tokenizer_config.json); set one"
        )
    return min(found)


def pad_token(directory: Directory) -> tuple[int, str]:
    """The id and text of the padding token: tokenizer.json's, else tokenizer_config.json's."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(directory.tokenizer.decode())
    padding = tokenizer.padding
    if padding:
        return int(padding["pad_id"]), str(padding["pad_token"])
    config_file = directory.path / "tokenizer_config.json"
    token = _json(config_file).get("pad_token") if config_file.is_file() else None
    if isinstance(token, dict):  # an AddedToken as saved by older transformers
        token = token.get("content")
    found = tokenizer.token_to_id(token) if isinstance(token, str) else None
    if isinstance(token, str) and found is not None:
        return int(found), token
    # No padding token (a GPT-style tokenizer): pad with id 0, masked out by attention_mask.
    return 0, str(tokenizer.id_to_token(0) or "")
