"""What a model version declares beyond its tensors: how a request's content becomes its
inputs (image preprocessing, a tokenizer) and its outputs an answer (labels and top-k,
pooling), built once at init from the manifest's `processing` (and the version's assets).

    {"input":  {"kind": "image", ...} | {"kind": "text", ...},
     "output": {"task": "classification", ...} | {"task": "embedding", ...}}

The dispatcher takes the request's items (forms/items.py: images as bytes, texts as str) and
parameters, and calls `input.feeds`, the model, then `output.answer`. Pillow and tokenizers are
imported only for a model of that kind: a tabular model's cold start never pays for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from functions.predict.config import Settings
from functions.predict.exceptions import ModelInitError
from functions.predict.processing.labels import Classification
from model_store.manifest import Manifest, TensorSpec

IMAGE, TEXT = "image", "text"
CLASSIFICATION, EMBEDDING = "classification", "embedding"
# The name of the one BYTES input the Open Inference Protocol shows for a model of each kind.
OIP_INPUTS = {IMAGE: "image", TEXT: "text"}
Items = Sequence[bytes] | Sequence[str]
Feeds = dict[str, np.ndarray]


class InputProcessing(Protocol):
    """Items (encoded images, texts) to the session's feeds; HTTPError for the client's."""

    kind: str

    def feeds(self, items: Items, params: Mapping[str, Any]) -> Feeds: ...


class OutputProcessing(Protocol):
    """The session's outputs to one answer per item (JSON-ready)."""

    def answer(
        self, results: list[np.ndarray], feeds: Feeds, params: Mapping[str, Any]
    ) -> list[Any]: ...


class ExtraOutputs(Protocol):
    """Outputs the Open Inference Protocol answers after the model's own, computed from the
    run (text.Embedding: each text's pooled vector, `embedding`)."""

    extra_outputs: tuple[TensorSpec, ...]

    def extra(self, results: list[np.ndarray], feeds: Feeds) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class Processing:
    input: InputProcessing
    output: OutputProcessing
    kind: str  # the input's kind: which request forms apply (bytes or text)
    task: str  # the output's task: the answer's shape (Hugging Face's for the task)
    extras: ExtraOutputs | None = None  # the protocol's outputs beyond the model's

    @property
    def oip_input(self) -> str:
        return OIP_INPUTS[self.kind]

    def body(self, answers: list[Any], single: bool) -> Any:
        """What the answers are sent as: Hugging Face's shapes. One item sent alone (raw bytes,
        or `"inputs"` a string) answers as the task's endpoints do: an image classification
        its list of labels, a text classification that list in a list (InferenceClient takes
        `[0]`), an embedding its vector; several items, a list of those."""
        if not single:
            return answers
        if self.task == CLASSIFICATION and self.kind == TEXT:
            return [answers[0]]
        return answers[0]


def build(manifest: Manifest, assets: Mapping[str, bytes], settings: Settings) -> Processing | None:
    """The model's processing, or None for a model fed tensors; ModelInitError if the
    manifest asks for what this function cannot do."""
    spec = manifest.processing
    if not spec:
        return None
    try:
        inp, out = spec["input"], spec["output"]
        kind, task = str(inp["kind"]), str(out["task"])
    except (KeyError, TypeError) as exc:
        raise ModelInitError(f"model {manifest.ref}: processing is malformed ({exc!r})") from exc
    made: InputProcessing
    if kind == IMAGE:
        from functions.predict.processing.image import ImageInput  # Pillow: image models only

        made = ImageInput(inp, manifest, assets, settings)
    elif kind == TEXT:
        from functions.predict.processing.text import TextInput  # tokenizers: text models only

        made = TextInput(inp, manifest, assets, settings)
    else:
        raise ModelInitError(f"model {manifest.ref}: unknown input kind {kind!r} in processing")
    answer: OutputProcessing
    extras: ExtraOutputs | None = None
    if task == CLASSIFICATION:
        answer = Classification(out, manifest)
    elif task == EMBEDDING:
        from functions.predict.processing.text import Embedding

        answer = extras = Embedding(out, manifest)
    else:
        raise ModelInitError(f"model {manifest.ref}: unknown output task {task!r} in processing")
    return Processing(made, answer, kind, task, extras)
