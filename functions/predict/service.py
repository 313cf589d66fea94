"""The loaded model: its session, its inputs' rules, its outputs and their checks.

Built once per execution environment (PredictionService.from_settings); the dispatcher's
routes run it. Nothing here knows HTTP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from functions.predict.config import Settings
from functions.predict.exceptions import InvalidInput, ModelInitError, NonFiniteOutput
from functions.predict.forms import rules
from functions.predict.forms.arrays import VDOT
from functions.predict.messages import clip
from functions.predict.processing import build as build_processing
from model_store.exceptions import ModelStoreError
from model_store.loader import LoadedModel, load_model
from model_store.resolve import fetch_version

# How many of the rows whose outputs are not finite a non_finite_output message names.
_ROWS_NAMED = 10


class PredictionService:
    def __init__(
        self,
        model: LoadedModel,
        settings: Settings,
        assets: Mapping[str, bytes] | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        manifest = model.manifest
        self.manifest = manifest
        # What turns request content into inputs and outputs into answers (None: tensors).
        self.processing = build_processing(manifest, assets or {}, settings)
        self.inputs = rules(manifest.inputs)
        self.model_headers = {
            "x-model-name": manifest.name,
            "x-model-version": str(manifest.version),
        }
        self.model_id = {"name": manifest.name, "version": manifest.version}
        self._derive_label = bool(
            manifest.kind == "classifier" and manifest.labels and "label" not in model.output_names
        )
        # Every output numeric (as the session types them): JSON takes the arrays as they are.
        self._numeric = not self._derive_label and all(
            "string" not in o.type for o in model.session.get_outputs()
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, s3_client: Any = None) -> PredictionService:
        """Fetch, verify and load the configured model; raise ModelInitError if anything fails."""
        try:
            manifest, data, assets = fetch_version(
                settings.model,
                sha256=settings.model_sha256,
                store_root=settings.store_root,
                s3_client=s3_client,
            )
            model = load_model(data, manifest, threads=settings.ort_threads)
        except ModelStoreError as exc:
            raise ModelInitError(f"cannot serve model {settings.model or 'digits'}: {exc}") from exc
        return cls(model, settings, assets)

    def refusal(self, exc: Exception) -> InvalidInput | None:
        """The client's error in onnxruntime's refusal to run a request's feeds, or None (a
        bug or a fault: the caller answers 500). Validation accepted the input; onnxruntime's
        refusal is still about the input (e.g. a value the graph cannot take)."""
        if type(exc).__name__ in ("InvalidArgument", "Fail", "RuntimeException"):
            return InvalidInput(f"the model refused this input: {clip(str(exc))}")
        return None

    def check_finite(self, results: list[np.ndarray]) -> None:
        """Refuse outputs that JSON cannot carry (NonFiniteOutput naming the rows). The model's
        run (`model.run`, onnxruntime's compiled run) leaves this to its callers.

        On the JSON answers the serialized answer is searched for orjson's `null` first: the
        first numpy reduction after onnxruntime's run costs several microseconds more than the
        same reduction elsewhere (measured, bench/hotpath.py), a bytes search almost nothing.
        """
        for name, value in zip(self.model.output_names, results, strict=True):
            if value.dtype.kind == "f":
                check_output(name, value)

    def outputs(self, results: list[np.ndarray]) -> dict[str, Any]:
        """The outputs by name as JSON takes them, with the label derived where the model
        gives only scores."""
        if self._numeric:
            return dict(zip(self.model.output_names, results, strict=True))
        outputs: dict[str, Any] = {}
        for name, value in zip(self.model.output_names, results, strict=True):
            outputs[name] = value if value.dtype.kind in "fiub" else value.tolist()
        if self._derive_label:
            labels = self.manifest.labels or ()
            scores = results[0]
            outputs["label"] = [labels[i] for i in np.argmax(scores, axis=-1).tolist()]
        return outputs

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self.model_id}

    def model_info(self) -> dict[str, Any]:
        return self.manifest.public_dict()


def check_output(name: str, value: np.ndarray) -> None:
    """Refuse outputs that JSON cannot carry: orjson would write NaN and ±inf as null (a 200
    that breaks the response schema, with a meaningless label)."""
    # One dot product on the hot path: any NaN or ±inf makes x·x NaN or inf...
    if math.isfinite(VDOT(value, value)):
        return
    # ...as can huge finite values that overflow it: only then look row by row.
    rows = value.reshape(len(value), -1) if value.ndim else value.reshape(1, 1)
    bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
    if not bad.size:
        return
    named = ", ".join(str(i) for i in bad[:_ROWS_NAMED].tolist())
    more = f" and {bad.size - _ROWS_NAMED} more" if bad.size > _ROWS_NAMED else ""
    raise NonFiniteOutput(
        f"the model's output {name!r} is NaN or infinite for {bad.size} of {len(rows)} rows "
        f"(rows {named}{more}, counting from 0); their inputs are outside what the model can "
        "compute, e.g. values far beyond the training data's range"
    )
