"""Texts in, a text model's feeds out; token embeddings pooled into one vector per text.

`TextInput` (built once at init, from the manifest's `processing.input` and the version's
tokenizer.json) is one of two things:

- with a tokenizer (a Hugging Face transformer): the Rust `tokenizers` library encodes the
  batch, truncated to the model's `max_length` (or refused, as the request says), padded to
  its longest text, with the attention mask and, when the model takes them, token type ids;
- without one (a scikit-learn text pipeline, whose graph tokenizes): the texts as the graph's
  string input, one per row.

Limits: SLIPWAY_MAX_TEXTS texts a request, SLIPWAY_MAX_TEXT_CHARS characters a text (checked
before tokenizing), `max_length` tokens a text. An empty text is a text: a transformer reads
its special tokens alone ([CLS] [SEP]), as transformers' pipelines do; a TF-IDF pipeline, a
row of zeros.

`Embedding` turns the model's token embeddings into one vector a text: the mean over the
attention mask or the first token (CLS), L2-normalised when the model declares it (a
sentence-transformers directory's Normalize module) or the request asks (`normalize`). The
Open Inference Protocol answers those vectors as an output of their own, `embedding`, after
the model's (`extra_outputs`, `extra`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from functions.predict.config import Settings
from functions.predict.exceptions import (
    InvalidInput,
    InvalidText,
    ModelInitError,
    PayloadTooLarge,
    TextTooLong,
)
from functions.predict.messages import quote
from functions.predict.processing.outputs import output_index
from model_store.manifest import Manifest, TensorSpec

TEXT = "text"
# The Open Inference Protocol's output holding each text's pooled vector (Embedding.extra).
EMBEDDING_OUTPUT = "embedding"
ROLES = ("input_ids", "attention_mask", "token_type_ids")
POOLINGS = ("mean", "cls", "none")
DIRECTIONS = ("right", "left")
# torch.nn.functional.normalize's eps, as sentence-transformers' Normalize uses it.
NORM_EPS = 1e-12
# Hugging Face's `truncation` values (transformers' TruncationStrategy) that truncate.
_TRUNCATE = {True, "longest_first", "only_first", "only_second"}
_KEEP = {False, "do_not_truncate"}


class TextInput:
    kind = TEXT

    def __init__(
        self,
        spec: Mapping[str, Any],
        manifest: Manifest,
        assets: Mapping[str, bytes],
        settings: Settings,
    ) -> None:
        self.ref = manifest.ref
        self.max_chars = settings.max_text_chars
        self.max_texts = settings.max_texts
        inputs = {t.name: t for t in manifest.inputs}
        name = spec.get("tokenizer")
        self._tokenizers: dict[str, Any] = {}
        if not name:  # the graph tokenizes: its one string input takes the texts
            self.name = str(spec.get("name") or manifest.inputs[0].name)
            if self.name not in inputs or inputs[self.name].dtype != "str":
                raise ModelInitError(
                    f"model {self.ref}: processing feeds texts to input {self.name!r}, which is "
                    f"not a string input of the model ({sorted(inputs)})"
                )
            self.rank = len(inputs[self.name].shape)
            self.max_length = 0
            return
        try:
            self.max_length = int(spec["max_length"])
            self.pad_id = int(spec.get("pad_id", 0))
            self.pad_token = str(spec.get("pad_token", "[PAD]"))
            self.roles = {str(k): str(v) for k, v in dict(spec["inputs"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelInitError(
                f"model {self.ref}: text processing is malformed ({exc!r})"
            ) from exc
        unknown = sorted(set(self.roles) - set(ROLES))
        missing = sorted(set(self.roles.values()) - set(inputs))
        if unknown or missing or "input_ids" not in self.roles:
            raise ModelInitError(
                f"model {self.ref}: text processing maps {self.roles}; the roles are {ROLES} "
                f"(input_ids required) and the model's inputs {sorted(inputs)}"
            )
        data = assets.get(str(name))
        if data is None:
            raise ModelInitError(
                f"model {self.ref}: its tokenizer {name!r} is not among the version's assets "
                f"({sorted(assets)}); register the model again"
            )
        self._source = data.decode("utf-8")
        self._tokenizers["right"] = self._tokenizer("right")  # built once, here

    def _tokenizer(self, direction: str) -> Any:
        from tokenizers import Tokenizer  # tokenizers: text models only

        try:
            tokenizer = Tokenizer.from_str(self._source)
        except Exception as exc:  # tokenizers raises its own untyped errors
            raise ModelInitError(f"model {self.ref}: tokenizer.json does not load ({exc})") from exc
        tokenizer.enable_truncation(self.max_length, direction=direction)
        tokenizer.enable_padding(pad_id=self.pad_id, pad_token=self.pad_token)
        return tokenizer

    def texts(self, items: Sequence[bytes] | Sequence[str]) -> list[str]:
        """The items as texts within the limits, or the refusal naming the one at fault."""
        if len(items) > self.max_texts:
            raise PayloadTooLarge(
                f"the request has {len(items)} texts; the limit is {self.max_texts} "
                "(SLIPWAY_MAX_TEXTS); split it"
            )
        out = []
        for i, item in enumerate(items):
            text = item if type(item) is str else _utf8(item, i)
            if len(text) > self.max_chars:
                raise TextTooLong(
                    f"text {i} has {len(text)} characters; the limit is {self.max_chars} "
                    "(SLIPWAY_MAX_TEXT_CHARS)"
                )
            out.append(text)
        return out

    def feeds(self, items: Sequence[bytes] | Sequence[str], params: Mapping[str, Any]) -> Any:
        texts = self.texts(items)
        if not texts:
            raise InvalidInput("no texts were sent; send at least one")
        truncate = truncation(params)
        if not self._tokenizers:
            arr = np.array(texts, dtype=object)
            return {self.name: arr.reshape(-1, 1) if self.rank == 2 else arr}
        direction = truncation_direction(params)
        tokenizer = self._tokenizers.get(direction)
        if tokenizer is None:
            tokenizer = self._tokenizers[direction] = self._tokenizer(direction)
        encodings = tokenizer.encode_batch(texts)
        if not truncate:
            for i, enc in enumerate(encodings):
                if enc.overflowing:
                    raise TextTooLong(
                        f"text {i} is longer than the {self.max_length} tokens this model reads; "
                        'send a shorter text or "truncation": true'
                    )
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        feeds = {self.roles["input_ids"]: ids}
        if "attention_mask" in self.roles:
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feeds[self.roles["attention_mask"]] = mask
        if "token_type_ids" in self.roles:
            types = np.array([e.type_ids for e in encodings], dtype=np.int64)
            feeds[self.roles["token_type_ids"]] = types
        return feeds


def _utf8(item: Any, i: int) -> str:
    if not isinstance(item, bytes | bytearray):
        raise InvalidInput(f"text {i} must be a string; got {type(item).__name__}")
    try:
        return bytes(item).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidText(
            f"text {i} is not UTF-8 ({exc.reason} at byte {exc.start}); send UTF-8 text"
        ) from None


def truncation(params: Mapping[str, Any]) -> bool:
    """Whether to truncate a text longer than the model reads (default) or refuse it (422):
    `truncation` as transformers' pipelines take it, or `truncate` as text-embeddings-inference."""
    for key in ("truncation", "truncate"):
        if key in params and params[key] is not None:
            value = params[key]
            if value in _TRUNCATE and type(value) in (bool, str):
                return True
            if value in _KEEP and type(value) in (bool, str):
                return False
            raise InvalidInput(
                f'parameters "{key}" must be true or false (or "longest_first", '
                f'"do_not_truncate"); got {quote(value, 60)}'
            )
    return True


def truncation_direction(params: Mapping[str, Any]) -> str:
    value = params.get("truncation_direction")
    if value is None:
        return "right"
    if type(value) is str and value.lower() in DIRECTIONS:
        return value.lower()
    raise InvalidInput(
        f'parameters "truncation_direction" must be "right" or "left"; got {quote(value, 60)}'
    )


class Embedding:
    """Token embeddings (batch, tokens, hidden) to one vector a text; a model that pools in its
    graph (batch, hidden) gives its vectors as they are (pooling "none")."""

    def __init__(self, spec: Mapping[str, Any], manifest: Manifest) -> None:
        self.output, self.index = output_index(spec, manifest)
        self.pooling = str(spec.get("pooling", "mean"))
        if self.pooling not in POOLINGS:
            raise ModelInitError(
                f"model {manifest.ref}: pooling {self.pooling!r} is not one of {POOLINGS}"
            )
        self.normalize = bool(spec.get("normalize", False))
        text_input = (manifest.processing or {}).get("input", {})
        self.mask = dict(text_input.get("inputs") or {}).get("attention_mask")
        if self.pooling == "mean" and not self.mask:
            raise ModelInitError(
                f"model {manifest.ref}: mean pooling needs the attention mask among the text "
                "processing's inputs"
            )
        shape = manifest.outputs[self.index].shape
        if self.pooling != "none" and len(shape) == 3:
            shape = (shape[0], shape[2])  # one vector a text
        names = {o.name for o in manifest.outputs}
        # A model with an output of that name already answers it; nothing is added then.
        self.extra_outputs: tuple[TensorSpec, ...] = (
            () if EMBEDDING_OUTPUT in names else (TensorSpec(EMBEDDING_OUTPUT, shape, "float32"),)
        )

    def pooled(
        self, results: list[np.ndarray], feeds: Mapping[str, np.ndarray], params: Mapping[str, Any]
    ) -> np.ndarray:
        """One float32 vector a text (batch, hidden); with pooling "none" on token embeddings,
        every token's vector (batch, tokens, hidden), padding included."""
        hidden = np.asarray(results[self.index])
        if self.pooling == "none" or hidden.ndim == 2:
            vectors = hidden
        elif self.pooling == "cls":
            vectors = hidden[:, 0]
        else:
            mask = np.asarray(feeds[str(self.mask)], dtype=hidden.dtype)[:, :, None]
            counts = np.maximum(mask.sum(axis=1), 1e-9)  # sentence-transformers' clamp
            vectors = (hidden * mask).sum(axis=1) / counts
        dimensions = params.get("dimensions")
        if dimensions is not None:  # a Matryoshka model's leading dimensions, then normalised
            width = vectors.shape[-1]
            if type(dimensions) is not int or not 0 < dimensions <= width:
                raise InvalidInput(
                    f'parameters "dimensions" must be a whole number from 1 to {width}; got '
                    f"{quote(dimensions, 60)}"
                )
            vectors = vectors[..., :dimensions]
        normalize = params.get("normalize", self.normalize)
        if type(normalize) is not bool:
            raise InvalidInput(
                f'parameters "normalize" must be true or false; got {quote(normalize, 60)}'
            )
        if normalize:
            norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
            vectors = vectors / np.maximum(norms, NORM_EPS)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def extra(self, results: list[np.ndarray], feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """`extra_outputs`' values: the pooled vectors, as POST /predict answers them."""
        return [self.pooled(results, feeds, {})] if self.extra_outputs else []

    def answer(
        self, results: list[np.ndarray], feeds: Mapping[str, np.ndarray], params: Mapping[str, Any]
    ) -> list[Any]:
        if params.get("prompt_name") is not None:
            raise InvalidInput('parameters "prompt_name": this model has no prompts')
        encoding = params.get("encoding_format", "float")
        if encoding != "float":
            raise InvalidInput(
                f'parameters "encoding_format" must be "float" (JSON numbers); got '
                f"{quote(encoding, 60)}"
            )
        vectors = self.pooled(results, feeds, params)
        if vectors.ndim == 2 or not self.mask:
            return list(vectors)
        lengths = np.asarray(feeds[self.mask]).sum(axis=1).tolist()  # each text's own tokens
        return [v[:n] for v, n in zip(vectors, lengths, strict=True)]
