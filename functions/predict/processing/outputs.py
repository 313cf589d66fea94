"""Which of the model's outputs a processing spec's answer is made from (the one check both
the classifier's labels and the text embedding make)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions.predict.exceptions import ModelInitError
from model_store.manifest import Manifest


def output_index(spec: Mapping[str, Any], manifest: Manifest) -> tuple[str, int]:
    """(name, index) of the output `spec` names (default the first); ModelInitError if none."""
    names = [o.name for o in manifest.outputs]
    name = str(spec.get("output") or names[0])
    if name not in names:
        raise ModelInitError(
            f"model {manifest.ref}: processing names output {name!r}; the model's outputs are "
            f"{names}"
        )
    return name, names.index(name)
