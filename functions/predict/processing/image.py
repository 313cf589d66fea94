"""Images to a model's input tensor, as the model version declares (the manifest's
`processing.input`, kind "image"): pure, bytes and spec in, a float array out.

    {"kind": "image", "name": "input",          the ONNX input it feeds
     "color": "RGB" | "BGR" | "L",              channel order; L: one grayscale channel
     "alpha": "drop" | "composite",             transparency dropped (Pillow's convert, as
                                                torchvision's and Keras' loaders do) or
     "background": [255, 255, 255],             composited onto it (transformers' convert_rgb)
     "resize": {"shortest_edge": 256} | {"height": 224, "width": 224} | null,
     "interpolation": "bilinear",               nearest, bilinear, bicubic, lanczos, box,
                                                hamming: Pillow's, antialiased as it does
     "crop": {"height": 224, "width": 224} | null,   centre crop
     "crop_offset": "round" | "floor",          torchvision's int(round((h - ch) / 2)) or
                                                transformers' (h - ch) // 2
     "rescale": 0.00392156862745098 | null,     x * rescale, then
     "mean": [...] | null, "std": [...] | null, (x - mean) / std, in the tensor's channel order
     "layout": "NCHW" | "NHWC", "dtype": "float32" | "float16" | "float64" | "uint8",
     "reduce": true}                            JPEGs decoded at reduced scale (image_decode)

Steps, in order: decode (EXIF orientation applied; 16-bit samples scaled to 8 bits, never
clipped), colour mode, resize, centre crop, rescale and normalise, layout. The output size is
fixed by the crop or an exact resize, so images of any size stack into one batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

from functions.predict.config import Settings
from functions.predict.exceptions import HTTPError, InvalidInput, ModelInitError, PayloadTooLarge
from functions.predict.processing.image_decode import load, open_checked, orientation, swaps_axes
from model_store.manifest import Manifest

KIND = "image"
COLORS = ("RGB", "BGR", "L")
ALPHAS = ("drop", "composite")
LAYOUTS = ("NCHW", "NHWC")
DTYPES = ("float32", "float16", "float64", "uint8")
CROP_OFFSETS = ("round", "floor")
RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_FIELDS: tuple[str, ...] = (
    "kind",
    "name",
    "color",
    "alpha",
    "background",
    "resize",
    "interpolation",
    "crop",
)
_FIELDS += ("crop_offset", "rescale", "mean", "std", "layout", "dtype", "reduce")


@dataclass(frozen=True)
class ImageSpec:
    name: str = "input"
    color: str = "RGB"
    alpha: str = "drop"
    background: tuple[int, int, int] = (255, 255, 255)
    shortest_edge: int | None = None  # resize the shorter side to this, keeping the aspect
    size: tuple[int, int] | None = None  # or resize to exactly (height, width)
    interpolation: str = "bilinear"
    crop: tuple[int, int] | None = None  # (height, width)
    crop_offset: str = "round"
    rescale: float | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    layout: str = "NCHW"
    dtype: str = "float32"
    reduce: bool = True

    @property
    def channels(self) -> int:
        return 1 if self.color == "L" else 3

    @property
    def out_size(self) -> tuple[int, int]:
        """(height, width) of every image's tensor."""
        if self.crop is not None:
            return self.crop
        assert self.size is not None  # from_dict checks one of them is given
        return self.size

    @property
    def shape(self) -> tuple[int, int, int]:
        (h, w), c = self.out_size, self.channels
        return (c, h, w) if self.layout == "NCHW" else (h, w, c)

    def resized(self, width: int, height: int) -> tuple[int, int] | None:
        """The (width, height) an upright width x height image is resized to, or None."""
        if self.size is not None:
            return self.size[1], self.size[0]
        if self.shortest_edge is None:
            return None
        short, long = sorted((width, height))
        new_long = int(self.shortest_edge * long / short)  # torchvision's and transformers'
        if width <= height:
            return self.shortest_edge, new_long
        return new_long, self.shortest_edge

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("shortest_edge")
        data.pop("size")
        if self.size is not None:
            data["resize"] = {"height": self.size[0], "width": self.size[1]}
        elif self.shortest_edge is not None:
            data["resize"] = {"shortest_edge": self.shortest_edge}
        else:
            data["resize"] = None
        data["crop"] = {"height": self.crop[0], "width": self.crop[1]} if self.crop else None
        for key in ("background", "mean", "std"):
            data[key] = list(data[key]) if data[key] is not None else None
        return {"kind": KIND, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ImageSpec:
        """The spec, or ValueError naming what is wrong in it."""
        if not isinstance(data, Mapping):
            raise ValueError(f"the image spec must be a JSON object; got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown fields {unknown}; the image spec takes {_FIELDS}")
        if data.get("kind", KIND) != KIND:
            raise ValueError(f"kind is {data.get('kind')!r}, not {KIND!r}")
        shortest, size = _resize(data.get("resize"))
        crop = _pair(data.get("crop"), "crop")
        spec = cls(
            name=_text(data.get("name", "input"), "name"),
            color=_choice(data, "color", COLORS, "RGB"),
            alpha=_choice(data, "alpha", ALPHAS, "drop"),
            background=_background(data.get("background", (255, 255, 255))),
            shortest_edge=shortest,
            size=size,
            interpolation=_choice(data, "interpolation", tuple(RESAMPLE), "bilinear"),
            crop=crop,
            crop_offset=_choice(data, "crop_offset", CROP_OFFSETS, "round"),
            rescale=_number(data.get("rescale"), "rescale"),
            mean=_channels(data.get("mean"), "mean"),
            std=_channels(data.get("std"), "std"),
            layout=_choice(data, "layout", LAYOUTS, "NCHW"),
            dtype=_choice(data, "dtype", DTYPES, "float32"),
            reduce=bool(data.get("reduce", True)),
        )
        spec.check()
        return spec

    def check(self) -> None:
        if self.crop is None and self.size is None:
            raise ValueError(
                "the spec gives no output size: resize to a height and width, or add a crop"
            )
        if (
            self.crop is not None
            and self.shortest_edge is not None
            and max(self.crop) > self.shortest_edge
        ):
            raise ValueError(f"crop {self.crop} is larger than the resize ({self.shortest_edge})")
        if (
            self.crop is not None
            and self.size is not None
            and (self.crop[0] > self.size[0] or self.crop[1] > self.size[1])
        ):
            raise ValueError(f"crop {self.crop} is larger than the resize {self.size}")
        if self.crop is not None and self.shortest_edge is None and self.size is None:
            raise ValueError("a crop needs a resize before it (images come in any size)")
        for key in ("mean", "std"):
            values = getattr(self, key)
            if values is not None and len(values) not in (1, self.channels):
                raise ValueError(f"{key} has {len(values)} values for {self.channels} channels")
        if self.std is not None and any(v == 0 for v in self.std):
            raise ValueError("std has a zero")
        if self.dtype == "uint8" and (self.rescale or self.mean or self.std):
            raise ValueError("a uint8 input takes the pixels as they are: no rescale, mean or std")


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
    if image.mode in _SIXTEEN_BIT:  # Pillow's convert would clip 16-bit samples at 255
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


def _resize(value: Any) -> tuple[int | None, tuple[int, int] | None]:
    if value is None:
        return None, None
    if isinstance(value, Mapping) and set(value) == {"shortest_edge"}:
        return _positive(value["shortest_edge"], "resize.shortest_edge"), None
    return None, _pair(value, "resize")


def _pair(value: Any, key: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != {"height", "width"}:
        raise ValueError(f'{key} must be {{"height": H, "width": W}}; got {value!r}')
    return _positive(value["height"], key), _positive(value["width"], key)


def _positive(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 8192:
        raise ValueError(f"{key} must be a whole number from 1 to 8192; got {value!r}")
    return value


def _choice(data: Mapping[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise ValueError(f"{key} must be one of {list(allowed)}; got {value!r}")
    return str(value)


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string; got {value!r}")
    return value


def _number(value: Any, key: str) -> float | None:
    return None if value is None else _finite(value, key)


def _finite(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ValueError(f"{key} must be a finite number; got {value!r}")
    return float(value)


def _channels(value: Any, key: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = [value] if isinstance(value, int | float) else value
    if not isinstance(values, list | tuple) or not values:
        raise ValueError(f"{key} must be a number or a list of them; got {value!r}")
    return tuple(_finite(v, key) for v in values)


def _background(value: Any) -> tuple[int, int, int]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 3
        or not all(isinstance(v, int) and 0 <= v <= 255 for v in value)
    ):
        raise ValueError(f"background must be three integers 0-255; got {value!r}")
    return (int(value[0]), int(value[1]), int(value[2]))
