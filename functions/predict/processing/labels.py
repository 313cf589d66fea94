"""A classifier's answer as Hugging Face's pipelines give it: the top-k labels with scores.

`[{"label": "tabby", "score": 0.93}, …]` per item, best first. The scores are the model's
output after the function the model declares (`function_to_apply`, as transformers names it:
softmax for logits of one-of-n classes, sigmoid for multi-label, none for probabilities); a
request may name another, and `top_k` (default the model's, else 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from functions.predict.exceptions import InvalidInput, ModelInitError
from functions.predict.messages import quote
from functions.predict.processing.outputs import output_index
from model_store.manifest import Manifest

FUNCTIONS = ("softmax", "sigmoid", "none")
DEFAULT_TOP_K = 5


class Classification:
    def __init__(self, spec: Mapping[str, Any], manifest: Manifest) -> None:
        self.output, self.index = output_index(spec, manifest)
        self.function = str(spec.get("function_to_apply", "none"))
        if self.function not in FUNCTIONS:
            raise ModelInitError(
                f"model {manifest.ref}: function_to_apply {self.function!r} is not one of "
                f"{FUNCTIONS}"
            )
        self.top_k = int(spec.get("top_k") or DEFAULT_TOP_K)
        self.labels = [str(x) for x in manifest.labels] if manifest.labels else None
        width = manifest.outputs[self.index].shape[-1:]
        if self.labels and width and isinstance(width[0], int) and width[0] != len(self.labels):
            raise ModelInitError(
                f"model {manifest.ref}: {len(self.labels)} labels for {width[0]} scores in "
                f"output {self.output!r}"
            )

    def answer(
        self, results: list[np.ndarray], feeds: Any, params: Mapping[str, Any]
    ) -> list[list[dict[str, Any]]]:
        scores = np.asarray(results[self.index], dtype=np.float64)
        scores = scores.reshape(len(scores), -1)
        function = params.get("function_to_apply", self.function)
        if function not in FUNCTIONS:
            raise InvalidInput(
                f'parameters "function_to_apply" must be one of {list(FUNCTIONS)}; got '
                f"{quote(function, 60)}"
            )
        top_k = params.get("top_k", self.top_k)
        if type(top_k) is not int or top_k < 1:
            raise InvalidInput(
                f'parameters "top_k" must be a whole number of at least 1; got {quote(top_k, 60)}'
            )
        scores = apply(function, scores)
        labels = self.labels or [f"LABEL_{i}" for i in range(scores.shape[1])]
        k = min(top_k, scores.shape[1])
        # Best first; a stable sort keeps the lower index first among equal scores.
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return [
            [{"label": labels[j], "score": float(row[j])} for j in best.tolist()]
            for row, best in zip(scores, order, strict=True)
        ]


def apply(function: str, scores: np.ndarray) -> np.ndarray:
    """Softmax over each row, a sigmoid of each score, or the scores as they are."""
    if function == "softmax":
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        out: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
        return out
    if function == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-scores))
        return out
    return scores
