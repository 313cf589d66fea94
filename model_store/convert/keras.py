"""Keras 3 models to ONNX with `model.export(format="onnx")` (torch backend).

Keras names the graph's inputs `keras_tensor…` and its outputs after graph nodes ("23"); they
are renamed for what they hold (outputs.py): `input`, and `probabilities`, `logits`, `output`
or the user's names.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from model_store.convert.base import Exported
from model_store.convert.failure import short
from model_store.convert.outputs import output_names as name_outputs
from model_store.convert.outputs import rename
from model_store.exceptions import ConversionError

_KERAS_INPUT = "keras_tensor"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def is_keras(model: Any) -> bool:
    return any(
        c.__module__.startswith("keras") and c.__name__ in ("Model", "Layer")
        for c in type(model).__mro__
    )


def export(
    model: Any,
    sample: np.ndarray,
    *,
    labels: tuple[Any, ...] | None = None,
    output_names: Sequence[str] | None = None,
) -> Exported:
    import keras
    import onnx

    from model_store.convert.torch import quiet

    x = np.asarray(sample, dtype=np.float32)
    what = type(model).__name__
    try:
        predicted = model.predict(x, verbose=0)  # also builds a never-called model
    except Exception as exc:  # the user's model: any error
        raise ConversionError(
            f"the Keras {what} could not run on the sample ({type(exc).__name__}: "
            f"{short(_reason(str(exc)))}); give sample rows shaped as the model's input"
        ) from exc
    outs = [
        np.asarray(o) for o in (predicted if isinstance(predicted, list | tuple) else [predicted])
    ]
    names = name_outputs(outs, given=output_names, classifier=bool(labels))
    with tempfile.TemporaryDirectory() as tmp, quiet():
        path = os.path.join(tmp, "model.onnx")
        try:
            model.export(path, format="onnx", verbose=False)
        except Exception as exc:
            raise ConversionError(
                f"keras could not export the {what}: {type(exc).__name__}: {short(str(exc))}"
            ) from exc
        onx = onnx.load(path)
    graph_inputs = [i.name for i in onx.graph.input]
    if len(graph_inputs) != 1 or len(onx.graph.output) != len(names):
        raise ConversionError(
            f"the exported {what} has inputs {graph_inputs} and {len(onx.graph.output)} outputs; "
            f"Slipway converts Keras models with one input and gets {len(names)} outputs here"
        )
    in_name = "input" if graph_inputs[0].startswith(_KERAS_INPUT) else graph_inputs[0]
    rename(
        onx,
        inputs={graph_inputs[0]: in_name},
        outputs={o.name: n for o, n in zip(onx.graph.output, names, strict=True)},
    )
    return Exported(
        data=onx.SerializeToString(),
        framework="keras",
        framework_version=keras.__version__,
        libraries={"keras_backend": keras.backend.backend()},
        kind="classifier" if labels else "generic",
        labels=labels,
        reference=dict(zip(names, outs, strict=True)),
        feeds={in_name: x},
    )


def _reason(text: str) -> str:
    """Keras's first line only says where ("Exception encountered when calling …"): the
    next one says what."""
    lines = [_ANSI.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and lines[0].startswith("Exception encountered"):
        return lines[1]
    return lines[0] if lines else text
