"""The example model: scikit-learn's bundled digits (8x8 images, 10 classes), no download."""

from __future__ import annotations

from typing import Any

from model_store.backends import Store
from model_store.manifest import Manifest, parse_ref

SEED = 0


TRAIN_SHARE = 0.9


def train(seed: int = SEED) -> tuple[Any, Any, Any]:
    """Fit a scaler + logistic regression deterministically; return (model, X_test, y_test).

    The held-out split is always the same, so accuracies compare. `seed` draws the rows the
    model is fitted on (a random 90% of the training split): each seed trains another model
    of the same task, another version in the store (for release and canary demos).
    """
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype("float32"), y, test_size=0.25, random_state=SEED, stratify=y
    )
    rows = np.random.default_rng(seed).permutation(len(x_train))[: int(TRAIN_SHARE * len(x_train))]
    rows.sort()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_train[rows], y_train[rows])
    return model, x_test, y_test


def build_and_register(
    store: Store, *, name: str = "digits", seed: int = SEED
) -> tuple[Manifest, bool, float]:
    """Train, convert with parity on the held-out set, register; return accuracy too."""
    from model_store.convert import convert

    parse_ref(name)  # a bad name fails before training, not after

    model, x_test, y_test = train(seed)
    accuracy = float((model.predict(x_test) == y_test).mean())
    converted = convert(
        model,
        x_test,
        name=name,
        description=f"scikit-learn digits: StandardScaler + LogisticRegression, seed {seed}, "
        f"held-out accuracy {accuracy:.4f}",
    )
    manifest, created = store.register(converted.data, converted.manifest)
    return manifest, created, accuracy
