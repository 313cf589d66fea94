"""An image model's preprocessing as its version declares it (the manifest's `processing.input`,
kind "image"), parsed and checked: ImageSpec.

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

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image

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
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
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
