"""The two models of the benchmark: the example (digits, logistic regression) and a larger one.

The larger one, a 100-tree random forest on the same digits, is trained and registered by the
bench itself under its own name, so runs are comparable and nothing else depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FOREST = "digits-forest"
FOREST_TREES = 100
SEED = 0


@dataclass(frozen=True)
class BenchModel:
    ref: str  # name@version in the store
    label: str  # for tables
    path: Path  # model.onnx
    rows: np.ndarray  # held-out float32 rows


def _digits_rows() -> np.ndarray:
    from sklearn.datasets import load_digits

    x, _ = load_digits(return_X_y=True)
    return np.asarray(x[-256:], dtype=np.float32)


def _forest(rows: np.ndarray) -> Any:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    x, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_estimators=FOREST_TREES, random_state=SEED, n_jobs=1)
    return model.fit(x[:-256].astype(np.float32), y[:-256])


def ensure(store_root: str | None) -> list[BenchModel]:
    """Register (idempotently) the example and the forest; return both."""
    from model_store.backends.local import LocalStore
    from model_store.convert import convert
    from model_store.example import build_and_register

    store = LocalStore(store_root)
    rows = _digits_rows()
    example, _, _ = build_and_register(store)
    if FOREST in store.names():
        forest = store.manifest(FOREST)
    else:
        converted = convert(
            _forest(rows),
            rows,
            name=FOREST,
            description=f"bench: {FOREST_TREES}-tree random forest on digits, seed {SEED}",
        )
        forest, _ = store.register(converted.data, converted.manifest)
    out = []
    for manifest, label in ((example, "example (digits logistic)"), (forest, "forest (100 trees)")):
        out.append(
            BenchModel(
                ref=f"{manifest.name}@{manifest.version}",
                label=label,
                path=store.model_path(manifest),
                rows=rows,
            )
        )
    return out


def body(rows: np.ndarray, batch: int) -> bytes:
    """A POST /predict body with the first `batch` rows (cycled)."""
    import orjson

    idx = np.arange(batch) % len(rows)
    return orjson.dumps({"inputs": rows[idx].tolist()})
