"""Validation and inference on a loaded model: the one code path every front end shares.

The Lambda direct path, the FastAPI route and the Flask app all call `PredictionService.predict`
with the raw body and get back status, body bytes and headers, so they cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from functions.predict import contract, validation
from functions.predict.config import Settings
from functions.predict.exceptions import HTTPError, InvalidInput, ModelInitError, NonFiniteOutput
from model_store.exceptions import ModelStoreError
from model_store.loader import LoadedModel, load_model

_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_VDOT = validation.VDOT
# How orjson writes NaN and ±inf: an answer without it has only finite numbers (a string
# output holding the text is checked the slow way, correctly).
NULL = b"null"
# How many of the rows whose outputs are not finite a non_finite_output message names.
_ROWS_NAMED = 10


# Not frozen: a frozen dataclass's __init__ costs ~1 µs more on every request (measured).
@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    batch_size: int = 0
    code: str | None = None  # the error code of an error reply, for metrics


class PredictionService:
    def __init__(self, model: LoadedModel, settings: Settings) -> None:
        self.model = model
        self.settings = settings
        manifest = model.manifest
        self.manifest = manifest
        self.model_headers = {
            "x-model-name": manifest.name,
            "x-model-version": str(manifest.version),
        }
        self._model_id = {"name": manifest.name, "version": manifest.version}
        self._derive_label = bool(
            manifest.kind == "classifier" and manifest.labels and "label" not in model.output_names
        )
        self._max_bytes = settings.max_body_bytes
        self._max_batch = settings.max_batch
        self._fast = _fast_input(model)

    @classmethod
    def from_settings(cls, settings: Settings, *, s3_client: Any = None) -> PredictionService:
        """Fetch, verify and load the configured model; raise ModelInitError if anything fails."""
        from model_store.resolve import fetch

        try:
            manifest, data = fetch(
                settings.model,
                sha256=settings.model_sha256,
                store_root=settings.store_root,
                s3_client=s3_client,
            )
            model = load_model(data, manifest, threads=settings.ort_threads)
        except ModelStoreError as exc:
            raise ModelInitError(f"cannot serve model {settings.model or 'digits'}: {exc}") from exc
        return cls(model, settings)

    # -- POST /predict ----------------------------------------------------------
    def predict(
        self,
        body: str | bytes | None,
        content_type: str | None,
        is_base64: bool = False,
        *,
        fast: bool = True,
    ) -> Reply:
        """POST /predict's answer to the raw body. `fast`: try `predict_fast` first (a caller
        that has already tried it passes False)."""
        if (
            fast
            and self._fast is not None
            and body
            and not is_base64
            and (content_type is None or content_type == contract.JSON)
        ):
            done = self.predict_fast(body.encode() if isinstance(body, str) else body)
            if done is not None:
                return Reply(200, done[0], self.model_headers, done[1])
        try:
            raw = contract.read_body(
                body, content_type, is_base64=is_base64, max_bytes=self.settings.max_body_bytes
            )
            payload = validation.parse_json(raw)
            feeds, batch = validation.to_feeds(
                payload,
                self.manifest.inputs,
                self.settings.max_batch,
                numbers=validation.numbers_only(raw),
            )
            results = self.run(feeds, check=False)
            outputs = self._outputs(results)
            data = orjson.dumps(
                {"outputs": outputs, "model": self._model_id}, option=_DUMPS_OPTIONS
            )
            if NULL in data:  # orjson writes NaN and ±inf as null: look at the arrays
                self.check_finite(results)
            contract.check_response_size(len(data), batch)
        except HTTPError as err:
            return self.error(err)
        return Reply(200, data, self.model_headers, batch)

    def predict_fast(self, raw: bytes) -> tuple[bytes, int] | None:
        """(body, batch) of the usual POST /predict's 200 answer, decided in one pass, or None.

        For a model with one float input of fixed row shape and a body that is exactly
        `{"inputs": rows}` of JSON numbers within the limits, the same bytes `predict` answers
        with, without its type and error discovery. None whenever anything is off, a refusal
        included: `predict` then decides and names the problem, so each rule, message and
        status stays in one place (tests/functions/predict/test_fast_path.py compares them).
        """
        fast = self._fast
        if fast is None or len(raw) > self._max_bytes or not validation.numbers_only(raw):
            return None
        name, dtype, tail = fast
        try:
            rows = orjson.loads(raw)["inputs"]
        except orjson.JSONDecodeError:
            return None
        arr = validation.rows_array(rows, dtype, tail, self._max_batch)
        if arr is None:
            return None
        try:
            results = self.model.run({name: arr})
        except Exception:
            return None  # `predict` runs it again and says what onnxruntime refused
        outputs = self._outputs(results)
        data = orjson.dumps({"outputs": outputs, "model": self._model_id}, option=_DUMPS_OPTIONS)
        if NULL in data or len(data) > contract.MAX_RESPONSE_BYTES:
            return None
        return data, len(rows)

    def error(self, err: HTTPError) -> Reply:
        return Reply(err.status, contract.error_body(err), self.model_headers, code=err.code)

    def run(self, feeds: dict[str, np.ndarray], *, check: bool = True) -> list[np.ndarray]:
        """The model's outputs, in `model.output_names` order; refuses NaN and ±inf outputs
        unless `check` is False, when the caller must (`check_finite`, or `NULL` in JSON)."""
        try:
            results: list[np.ndarray] = self.model.run(feeds)
        except Exception as exc:
            # Validation accepted the input; onnxruntime's refusal is still about the input
            # (e.g. a value the graph cannot take), so the client hears it, not a 500.
            if type(exc).__name__ in ("InvalidArgument", "Fail", "RuntimeException"):
                raise InvalidInput(
                    f"the model refused this input: {contract.clip(str(exc))}"
                ) from exc
            raise
        if check:
            self.check_finite(results)
        return results

    def check_finite(self, results: list[np.ndarray]) -> None:
        """Refuse outputs that JSON cannot carry (NonFiniteOutput naming the rows).

        On the JSON paths the serialized answer is searched for `NULL` instead: the first
        numpy reduction after onnxruntime's run costs several microseconds more than the
        same reduction elsewhere (measured, bench/hotpath.py), a bytes search almost nothing.
        """
        for name, value in zip(self.model.output_names, results, strict=True):
            if value.dtype.kind == "f":
                _check_finite(name, value)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, Any]:
        return self._outputs(self.run(feeds))

    def _outputs(self, results: list[np.ndarray]) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for name, value in zip(self.model.output_names, results, strict=True):
            outputs[name] = value if value.dtype.kind in "fiub" else value.tolist()
        if self._derive_label:
            labels = self.manifest.labels or ()
            scores = results[0]
            outputs["label"] = [labels[i] for i in np.argmax(scores, axis=-1).tolist()]
        return outputs

    # -- GET /health and GET /model ---------------------------------------------
    def health(self) -> dict[str, Any]:
        return {"status": "ok", "model": self._model_id}

    def model_info(self) -> dict[str, Any]:
        return self.manifest.public_dict()


def _fast_input(model: LoadedModel) -> tuple[str, np.dtype[Any], tuple[int, ...]] | None:
    """(name, dtype, row shape) of a model `predict_fast` serves: one float input whose
    dimensions after the batch are all fixed, and only numeric outputs (JSON as they are)."""
    inputs = model.manifest.inputs
    if len(inputs) != 1:
        return None
    spec = inputs[0]
    dtype = validation.FLOATS.get(spec.dtype)
    tail = spec.shape[1:]
    if dtype is None or not spec.shape or not all(type(d) is int for d in tail):
        return None
    if any(o.dtype not in _NUMERIC for o in model.manifest.outputs):
        return None
    return spec.name, dtype, tuple(int(d) for d in tail)  # type: ignore[arg-type]


_NUMERIC = frozenset(
    ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")
)


def _check_finite(name: str, value: np.ndarray) -> None:
    """Refuse outputs that JSON cannot carry: orjson would write NaN and ±inf as null (a 200
    that breaks the response schema, with a meaningless label)."""
    # One dot product on the hot path: any NaN or ±inf makes x·x NaN or inf...
    if math.isfinite(_VDOT(value, value)):
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
