"""`{"inputs": rows}` (one input) or `{"inputs": {name: rows}}`: each input's rows, whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from functions.predict.exceptions import InvalidInput
from functions.predict.forms.arrays import Input, to_array
from functions.predict.messages import clip, quote


def to_feeds(
    value: Any, inputs: tuple[Input, ...], max_batch: int
) -> tuple[dict[str, np.ndarray], int]:
    names = [i.name for i in inputs]
    if isinstance(value, Mapping):
        missing = sorted(set(names) - set(value))
        unknown = sorted(set(value) - set(names))
        if missing or unknown:
            raise InvalidInput(
                f"inputs by name must be exactly {quote(names)}; missing "
                f"{quote(missing)}, unknown {quote(unknown)}"
            )
        values = {i.name: value[i.name] for i in inputs}
    elif len(inputs) == 1:
        values = {names[0]: value}
    else:
        raise InvalidInput(
            f"this model has {len(inputs)} inputs {quote(names)}: send "
            f'{{"inputs": {{"{clip(names[0], 60)}": [...], ...}}}} '
            f'or {{"instances": [{{"{clip(names[0], 60)}": ..., ...}}]}}'
        )
    feeds = {i.name: to_array(values[i.name], i, max_batch) for i in inputs}
    batches = {name: int(arr.shape[0]) for name, arr in feeds.items()}
    if len(set(batches.values())) > 1:
        raise InvalidInput(f"all inputs must have the same number of rows; got {quote(batches)}")
    return feeds, next(iter(batches.values()))
