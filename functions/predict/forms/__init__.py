"""The body forms of POST /predict: which one a JSON body is, and its inputs as arrays.

- `{"inputs": rows}` or `{"inputs": {name: rows}}`: columns of rows by input (inputs.py);
- `{"instances": [row, ...]}`: row records, TF Serving's and KServe v1's form (instances.py).

A form owns its refusals; the conversion of one input's value is arrays.to_array, shared by
both and by the Open Inference Protocol's JSON tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from functions.predict.exceptions import InvalidInput
from functions.predict.forms import inputs, instances
from functions.predict.forms.arrays import Input, json_type, to_array
from functions.predict.forms.jsonbody import numbers_only, parse_json
from functions.predict.messages import quote
from model_store.manifest import TensorSpec

_FORMS = {"inputs", "instances"}
Feeds = dict[str, np.ndarray]


def rules(specs: Sequence[TensorSpec | Input]) -> tuple[Input, ...]:
    """The inputs' rules (built once per model; specs are accepted for callers without)."""
    return tuple(s if type(s) is Input else Input.of(s) for s in specs)  # type: ignore[arg-type]


def decode(raw: bytes, inputs: tuple[Input, ...], max_batch: int) -> tuple[Feeds, int]:
    """The feeds and batch size of a JSON body, parsed once. The usual one, `{"inputs": rows}`
    of plain numbers for a one-input model, is recognised from its bytes (numbers_only) and
    goes straight to its input's conversion; every other body to its form (`to_feeds`)."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        payload = parse_json(raw)  # raises, naming what is wrong
    if len(inputs) == 1 and numbers_only(raw):
        inp = inputs[0]
        arr = to_array(payload["inputs"], inp, max_batch, numbers=True)
        return {inp.name: arr}, len(arr)
    return to_feeds(payload, inputs, max_batch)


def to_feeds(
    payload: Any,
    specs: Sequence[TensorSpec | Input],
    max_batch: int,
    *,
    numbers: bool = False,
) -> tuple[Feeds, int]:
    """The model's feeds and the batch size from a parsed JSON body, or the refusal naming
    what is wrong. `numbers`: the body passed jsonbody.numbers_only."""
    if type(payload) is dict and len(payload) == 1 and len(specs) == 1:
        # The usual request, {"inputs": [rows]} for a one-input model, recognised at once.
        rows = payload.get("inputs")
        if type(rows) is list:
            (spec,) = specs
            arr = to_array(rows, spec, max_batch, numbers=numbers)
            return {spec.name: arr}, int(arr.shape[0])
    if not isinstance(payload, dict):
        raise InvalidInput(
            f'the body must be a JSON object like {{"inputs": [[...]]}}; got {json_type(payload)}'
        )
    extra = sorted(set(payload) - _FORMS)
    if "inputs" not in payload and "instances" not in payload:
        raise InvalidInput(
            f'the body has no "inputs" field, nor "instances" '
            f"(fields given ({len(payload)}): {quote(sorted(payload))})"
        )
    if extra:
        raise InvalidInput(
            f'unknown fields ({len(extra)}): {quote(extra)}; the body takes "inputs" or "instances"'
        )
    if len(payload) > 1:
        raise InvalidInput('send either "inputs" or "instances", not both')
    if "instances" in payload:
        return instances.to_feeds(payload["instances"], rules(specs), max_batch)
    return inputs.to_feeds(payload["inputs"], rules(specs), max_batch)
