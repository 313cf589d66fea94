"""Convert an image model with its preprocessing: the sample tensors are Slipway's own
preprocessing of the sample images, the tensor parity is the usual one (convert/), then the
image parity (parity.py) and the manifest's `processing` (preprocessing, labels, scores)."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from model_store.convert import Converted, convert
from model_store.exceptions import ConversionError
from model_store.images import Preprocessing, resolve
from model_store.images.parity import DEFAULT_IMAGE_ATOL, check

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
MAX_SAMPLE_IMAGES = 64
EXAMPLE_SIDE = 256  # the manifest's example request: a small JPEG of the first sample image


def sample_images(where: Path | str | None) -> list[tuple[str, bytes]]:
    """(file name, bytes) of a directory's images, sorted by name; without one, the two
    photographs scikit-learn ships (no download)."""
    if where is None:
        try:
            from sklearn.datasets import load_sample_images
        except ImportError:
            raise ConversionError(
                "give --sample-images DIR (JPEG or PNG files) for the parity check"
            ) from None
        paths = [Path(p) for p in load_sample_images().filenames]
    else:
        folder = Path(where)
        if not folder.is_dir():
            raise ConversionError(f"--sample-images {folder}: not a directory of images")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise ConversionError(
                f"--sample-images {folder}: no {'/'.join(IMAGE_SUFFIXES)} files in it"
            )
    return [(p.name, p.read_bytes()) for p in paths[:MAX_SAMPLE_IMAGES]]


def convert_image_model(
    model: Any,
    *,
    name: str,
    preprocess: Any,
    size: int | None,
    images_dir: Path | str | None,
    labels: Sequence[Any] | None,
    output_names: Sequence[str] | None,
    atol: float,
    rtol: float,
    image_atol: float | None,
    opset: int | None,
    description: str,
    say: Callable[[str], None],
) -> Converted:
    from functions.predict.processing.image import preprocess as run_preprocess
    from functions.predict.processing.image_spec import ImageSpec

    prep: Preprocessing = resolve(preprocess, size)
    spec = ImageSpec.from_dict(prep.spec)
    images = sample_images(images_dir)
    say(f"preprocessing {len(images)} sample images ({prep.source})")
    try:
        tensors = np.stack([run_preprocess(data, spec, 80_000_000) for _, data in images])
    except Exception as exc:  # an HTTPError names the image's problem
        raise ConversionError(f"a sample image cannot be preprocessed: {exc}") from exc
    say("converting to ONNX and checking parity")
    converted = convert(
        model,
        tensors,
        name=name,
        atol=atol,
        rtol=rtol,
        labels=labels,
        output_names=output_names,
        opset=opset,
        description=description,
    )
    manifest = converted.manifest
    if len(manifest.inputs) != 1:
        raise ConversionError(
            f"an image model takes one input; this one takes {len(manifest.inputs)}"
        )
    spec = replace(spec, name=manifest.inputs[0].name)
    output = manifest.outputs[0].name
    function = "softmax" if output == "logits" else "none"
    say(f"checking the image preprocessing against {prep.reference}'s")
    record = check(
        model,
        converted.data,
        prep=prep,
        spec=spec,
        output=output,
        function=function,
        images=images,
        atol=DEFAULT_IMAGE_ATOL if image_atol is None else image_atol,
    )
    processing = {
        "input": spec.to_dict(),
        "output": {
            "task": "classification",
            "output": output,
            "function_to_apply": function,
            "top_k": 5,
        },
    }
    parity = manifest.parity
    checks = {**(parity.checks or {}), "images": record} if parity is not None else None
    manifest = replace(
        manifest,
        kind="classifier" if manifest.labels else manifest.kind,
        processing=processing,
        parity=replace(parity, checks=checks) if parity is not None else None,
        example={"inputs": _example(images[0][1])},
    )
    return replace(converted, manifest=manifest)


def _example(data: bytes) -> str:
    """A small JPEG of an image, base64: the example request Hugging Face's form takes."""
    from PIL import Image, ImageOps

    opened = Image.open(io.BytesIO(data))
    image = (ImageOps.exif_transpose(opened) or opened).convert("RGB")
    image.thumbnail((EXAMPLE_SIDE, EXAMPLE_SIDE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return base64.b64encode(out.getvalue()).decode()
