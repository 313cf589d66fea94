"""`slipway example --image`: a small image classifier with its preprocessing and labels,
trained here on scikit-learn's bundled digits drawn as pictures (no download): a PyTorch CNN
on 32x32 grayscale images, registered with a JSON spec (grayscale, resize to 32x32,
rescale to [0, 1]) and the labels zero to nine; parity is checked on digit pictures (PNG)
and on scikit-learn's two photographs."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model_store.backends import Store

SIDE = 32
LABELS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPEC = {
    "color": "L",
    "resize": {"height": SIDE, "width": SIDE},
    "interpolation": "bilinear",
    "rescale": 1 / 255,
}
STEPS = 300


def pictures() -> tuple[list[bytes], np.ndarray]:
    """The digits (8x8, 0-16) as PNG pictures, dark ink on white as a scan or photo shows
    them, and their classes."""
    from PIL import Image
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    out = []
    for row in x:
        ink = (255 - row.reshape(8, 8) * 255 / 16).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(ink, "L").resize((64, 64), Image.Resampling.BILINEAR).save(buffer, "PNG")
        out.append(buffer.getvalue())
    return out, y


def train(seed: int = 0) -> tuple[Any, float]:
    """A small CNN fitted on 80% of the pictures; its accuracy on the rest."""
    import torch

    from functions.predict.processing.image import preprocess
    from functions.predict.processing.image_spec import ImageSpec

    images, y = pictures()
    spec = ImageSpec.from_dict(SPEC)
    x = torch.from_numpy(np.stack([preprocess(b, spec, 10**6) for b in images]))
    labels = torch.from_numpy(y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(x))
    train_rows, test_rows = order[:cut], order[cut:]
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 16, 3, stride=2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 7 * 7, len(LABELS)),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x[train_rows]), labels[train_rows])
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x[test_rows]).argmax(1) == labels[test_rows]).float().mean())
    return model, accuracy


def build_and_register(
    store: Store,
    *,
    name: str = "digit-pictures",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> tuple[Any, float]:
    """Train, register with its preprocessing and labels; (Registered, held-out accuracy)."""
    from model_store.api import register
    from model_store.manifest import parse_ref

    parse_ref(name)  # a bad name fails before training
    model, accuracy = train(seed)
    images, _ = pictures()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(0, 40, 4):
            (folder / f"digit-{i:03d}.png").write_bytes(images[i])
        from sklearn.datasets import load_sample_images

        for path in load_sample_images().filenames:
            (folder / Path(path).name).write_bytes(Path(path).read_bytes())
        done = register(
            model,
            name=name,
            store=store,
            preprocess=SPEC,
            sample_images=folder,
            labels=LABELS,
            description=f"PyTorch CNN on scikit-learn's digits as 32x32 pictures, seed {seed}, "
            f"held-out accuracy {accuracy:.4f}",
            progress=progress,
        )
    return done, accuracy
