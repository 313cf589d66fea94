"""Images to a model's input tensor, as the model version declares (image_spec.ImageSpec):
pure, bytes and spec in, a float array out; ImageInput feeds the session a batch.

Steps, in order: decode (image_decode: EXIF orientation applied; 16-bit samples scaled to 8
bits, never clipped), colour mode, resize, centre crop, rescale and normalise, layout. The
output size is fixed by the crop or an exact resize, so images of any size stack into one
batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from functions.predict.config import Settings
from functions.predict.exceptions import HTTPError, InvalidInput, ModelInitError, PayloadTooLarge
from functions.predict.processing.image_decode import load, open_checked, orientation, swaps_axes
from functions.predict.processing.image_spec import KIND, RESAMPLE, SIXTEEN_BIT, ImageSpec
from model_store.manifest import Manifest


def preprocess(
    data: bytes, spec: ImageSpec, max_pixels: int, trace: dict[str, Any] | None = None
) -> np.ndarray:
    """One encoded image to its tensor (without the batch axis). `trace`, when given, gets
    each step's result: decoded, resized, cropped (uint8 arrays) and tensor; the parity
    check at registration compares them with the framework's reference, step by step."""
    image, kind = open_checked(data, max_pixels)
    turn = orientation(image)
    width, height = image.size[::-1] if swaps_axes(turn) else image.size
    target = spec.resized(width, height)
    at_least = None
    if target is not None and spec.reduce:
        at_least = target[::-1] if swaps_axes(turn) else target
    image = to_mode(load(image, kind, at_least), spec)
    if trace is not None:
        trace["decoded"] = np.asarray(image)
        trace["reduced"] = image.size != (width, height)
    if target is not None:
        image = image.resize(target, RESAMPLE[spec.interpolation])
    if trace is not None:
        trace["resized"] = np.asarray(image)
    if spec.crop is not None:
        image = centre_crop(image, spec.crop, spec.crop_offset)
    pixels = np.asarray(image)
    tensor = to_tensor(pixels, spec)
    if trace is not None:
        trace["cropped"] = pixels
        trace["tensor"] = tensor
    return tensor


def to_mode(image: Image.Image, spec: ImageSpec) -> Image.Image:
    """RGB (BGR is reversed later) or L, from any mode Pillow decodes."""
    target = "L" if spec.color == "L" else "RGB"
    if image.mode in SIXTEEN_BIT:  # Pillow's convert would clip 16-bit samples at 255
        wide = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        image = Image.fromarray(((wide + 128) // 257).astype(np.uint8), "L")
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    if has_alpha and spec.alpha == "composite":
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (*spec.background, 255))
        return Image.alpha_composite(background, rgba).convert(target)
    if image.mode == target:
        return image
    if image.mode == "P" and has_alpha:
        image = image.convert("RGBA")  # Pillow's own route for a palette with transparency
    return image.convert(target)


def centre_crop(image: Image.Image, crop: tuple[int, int], offset: str) -> Image.Image:
    height, width = crop
    if offset == "round":
        top = int(round((image.height - height) / 2.0))
        left = int(round((image.width - width) / 2.0))
    else:
        top, left = (image.height - height) // 2, (image.width - width) // 2
    return image.crop((left, top, left + width, top + height))


def to_tensor(pixels: np.ndarray, spec: ImageSpec) -> np.ndarray:
    x = pixels[..., None] if pixels.ndim == 2 else pixels
    if spec.color == "BGR":
        x = x[..., ::-1]
    if spec.dtype != "uint8":
        x = x.astype(np.float32)
        if spec.rescale is not None:
            x *= np.float32(spec.rescale)
        if spec.mean is not None:
            x -= np.asarray(spec.mean, dtype=np.float32)
        if spec.std is not None:
            x /= np.asarray(spec.std, dtype=np.float32)
    if spec.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x, dtype=spec.dtype)


class ImageInput:
    """The serving side: encoded images to one batch for the session."""

    kind = KIND

    def __init__(
        self,
        spec: Mapping[str, Any],
        manifest: Manifest,
        assets: Mapping[str, bytes],
        settings: Settings,
    ) -> None:
        try:
            self.spec = ImageSpec.from_dict(spec)
        except ValueError as exc:
            raise ModelInitError(f"model {manifest.ref}: image processing: {exc}") from exc
        self.name = self.spec.name
        self.max_pixels = settings.max_image_pixels
        self.max_images = min(settings.max_images, settings.max_batch)
        self.batch = check_input(self.spec, manifest)

    def feeds(
        self, items: Sequence[bytes] | Sequence[str], params: Mapping[str, Any]
    ) -> dict[str, np.ndarray]:
        count = len(items)
        if not count:
            raise InvalidInput("the request has no image")
        if count > self.max_images:
            raise PayloadTooLarge(
                f"the request has {count} images; the limit is {self.max_images} "
                "(SLIPWAY_MAX_IMAGES): send fewer per request"
            )
        if self.batch is not None and count != self.batch:
            raise InvalidInput(f"this model takes {self.batch} image(s) per request; got {count}")
        tensors = []
        for i, item in enumerate(items):
            if not isinstance(item, bytes | bytearray | memoryview):
                raise InvalidInput(f"item {i} is text; this model takes images (encoded bytes)")
            try:
                tensors.append(preprocess(bytes(item), self.spec, self.max_pixels))
            except HTTPError as err:
                if count == 1:
                    raise
                raise type(err)(f"image {i} (counting from 0): {err.message}") from err
        return {self.name: np.stack(tensors)}


def check_input(spec: ImageSpec, manifest: Manifest) -> int | None:
    """The model's batch size when it is fixed (else None); ModelInitError when the spec's
    tensor cannot feed the model's input."""
    found = [t for t in manifest.inputs if t.name == spec.name]
    if not found:
        raise ModelInitError(
            f"model {manifest.ref}: image processing feeds input {spec.name!r}, but the model's "
            f"inputs are {[t.name for t in manifest.inputs]}"
        )
    shape = tuple(found[0].shape)
    want = spec.shape
    fixed = [(d, w) for d, w in zip(shape[1:], want, strict=False) if isinstance(d, int)]
    if len(shape) != 4 or any(d != w for d, w in fixed):
        raise ModelInitError(
            f"model {manifest.ref}: input {spec.name!r} has shape {list(shape)}; the image "
            f"processing makes batches of {list(want)} ({spec.layout})"
        )
    return shape[0] if isinstance(shape[0], int) else None
