"""Each framework's own preprocessing of an image file, step by step, for the parity check:
what the original model was trained and evaluated with.

- torchvision: pil_loader (Image.open, convert("RGB")), Resize, CenterCrop, ToTensor,
  Normalize. torchvision itself when it is installed; otherwise the same operations as
  torchvision's PIL path computes them (its output-size rule, Pillow's resize, its crop
  rounding, ToTensor's divide and Normalize's subtract-divide in torch), since no torchvision
  wheel imports beside the torch these machines carry;
- keras: keras.utils.load_img (target_size, interpolation), img_to_array and
  keras.applications' preprocess_input in the preset's mode;
- transformers: load_image's decoding (EXIF orientation, convert("RGB")) and the image
  processor of the preprocessor_config.json's directory (its PIL backend).

Every reference decodes the whole file at full scale with EXIF orientation applied (as
transformers' load_image does), so a difference in the decode step is Slipway's reduced-scale
JPEG decoding.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from functions.predict.processing.image_spec import RESAMPLE, ImageSpec
from model_store.images import KERAS, TRANSFORMERS, Preprocessing

Stages = dict[str, Any]


def reference(prep: Preprocessing, spec: ImageSpec, data: bytes) -> Stages:
    """{"decoded"?, "resized"?, "cropped"?, "tensor"} as the framework computes them."""
    image = Image.open(io.BytesIO(data))
    upright = ImageOps.exif_transpose(image) or image
    if prep.reference == KERAS:
        return _keras(prep, spec, data, upright, upright is not image)
    if prep.reference == TRANSFORMERS:
        assert prep.hf_dir is not None
        return _transformers(prep.hf_dir, upright)
    return _torchvision(spec, upright)


def _decoded(spec: ImageSpec, image: Image.Image) -> Image.Image:
    mode = "L" if spec.color == "L" else "RGB"
    if spec.alpha == "composite" and ("A" in image.getbands() or "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (*spec.background, 255))
        return Image.alpha_composite(background, rgba).convert(mode)
    return image.convert(mode)  # torchvision.datasets.folder.pil_loader


def torchvision_pipeline(spec: ImageSpec, image: Image.Image) -> np.ndarray:
    """pil_loader's convert and torchvision's transforms on an opened image: the tensor
    (bench/photos.py's reference pipeline)."""
    return np.asarray(_torchvision(spec, image)["tensor"])


def _torchvision(spec: ImageSpec, upright: Image.Image) -> Stages:
    import torch

    image = _decoded(spec, upright)
    stages: Stages = {"decoded": np.asarray(image)}
    width, height = image.size
    if spec.size is not None:
        new_h, new_w = spec.size
    elif spec.shortest_edge is not None:  # torchvision's _compute_resized_output_size
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = spec.shortest_edge, int(spec.shortest_edge * long / short)
        new_w, new_h = (new_short, new_long) if width <= height else (new_long, new_short)
    image = image.resize((new_w, new_h), RESAMPLE[spec.interpolation])  # F_pil.resize
    stages["resized"] = np.asarray(image)
    if spec.crop is not None:  # F.center_crop
        crop_h, crop_w = spec.crop
        if spec.crop_offset == "round":
            top, left = int(round((new_h - crop_h) / 2.0)), int(round((new_w - crop_w) / 2.0))
        else:
            top, left = (new_h - crop_h) // 2, (new_w - crop_w) // 2
        image = image.crop((left, top, left + crop_w, top + crop_h))
    stages["cropped"] = np.asarray(image)
    # ToTensor: HWC uint8 to CHW float; Normalize: (x - mean) / std per channel.
    tensor = torch.from_numpy(np.array(image, copy=True))
    tensor = (tensor[..., None] if tensor.ndim == 2 else tensor).permute(2, 0, 1)
    if spec.color == "BGR":
        tensor = tensor.flip(0)
    tensor = tensor.to(torch.float32)
    if spec.rescale is not None:
        tensor = tensor.div(1 / spec.rescale) if spec.rescale else tensor
    if spec.mean is not None:
        tensor = tensor.sub(torch.tensor(spec.mean, dtype=torch.float32)[:, None, None])
    if spec.std is not None:
        tensor = tensor.div(torch.tensor(spec.std, dtype=torch.float32)[:, None, None])
    if spec.layout == "NHWC":
        tensor = tensor.permute(1, 2, 0)
    stages["tensor"] = tensor.numpy().astype(spec.dtype)
    return stages


def _keras(
    prep: Preprocessing, spec: ImageSpec, data: bytes, upright: Image.Image, turned: bool
) -> Stages:
    import keras
    from keras.applications import imagenet_utils

    if turned:  # load_img ignores EXIF: give it the upright pixels, losslessly
        buffer = io.BytesIO()
        upright.convert("RGBA" if "A" in upright.getbands() else "RGB").save(buffer, "PNG")
        data = buffer.getvalue()
    assert spec.size is not None  # keras presets resize exactly
    image = keras.utils.load_img(
        io.BytesIO(data),
        color_mode="grayscale" if spec.color == "L" else "rgb",
        target_size=spec.size,
        interpolation=spec.interpolation,
    )
    stages: Stages = {"resized": np.asarray(image), "cropped": np.asarray(image)}
    x = keras.utils.img_to_array(image, data_format="channels_last", dtype="float32")
    x = imagenet_utils.preprocess_input(x[None], data_format="channels_last", mode=prep.keras_mode)
    stages["tensor"] = np.asarray(x[0], dtype=spec.dtype)
    return stages


def _transformers(directory: Path, upright: Image.Image) -> Stages:
    processor = _processor(str(directory))
    out = processor(images=upright.convert("RGB"), return_tensors="np")  # as load_image does
    return {"tensor": np.asarray(out["pixel_values"][0], dtype=np.float32)}


@functools.cache
def _processor(directory: str) -> Any:
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(directory, backend="pil", local_files_only=True)
