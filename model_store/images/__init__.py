"""The image side of registration: what preprocessing a model version declares
(`--preprocess`: a preset, a JSON spec or a Hugging Face preprocessor_config.json), its labels,
and the parity of Slipway's preprocessing with the framework's reference (parity.py).

Presets (`--size` changes the input size; defaults in brackets):

    imagenet      torchvision's Resize(256), CenterCrop(224), ToTensor, ImageNet Normalize [224]
    keras:tf      keras.applications preprocess_input mode "tf": x / 127.5 - 1           [224]
    keras:torch   mode "torch": x / 255, ImageNet mean and std                            [224]
    keras:caffe   mode "caffe": RGB to BGR, minus ImageNet's BGR means, no scaling        [224]

Keras presets resize to size x size (bilinear: image_dataset_from_directory's default) in
NHWC; the imagenet preset resizes the shorter side to size * 256 / 224 and centre-crops.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_store.exceptions import ConversionError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
DEFAULT_SIZE = 224
PRESETS = ("imagenet", "keras:tf", "keras:torch", "keras:caffe")
# Which reference preprocessing the parity check runs for each origin.
TORCHVISION, KERAS, TRANSFORMERS = "torchvision", "keras", "transformers"
# PIL's resample codes, as preprocessor_config.json gives them.
_PIL_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}
# preprocessor_config.json keys Slipway's spec has no step for (a refusal names them).
_HF_UNSUPPORTED = ("do_pad", "crop_pct", "do_reduce_labels", "max_height", "longest_edge")


@dataclass(frozen=True)
class Preprocessing:
    """A resolved --preprocess: the spec (model-independent until the input name is known)
    and where it came from, which picks the reference of the parity check."""

    spec: Mapping[str, Any]  # ImageSpec.to_dict()
    reference: str  # TORCHVISION | KERAS | TRANSFORMERS
    source: str  # "imagenet", "keras:tf", a file name
    keras_mode: str | None = None  # preprocess_input's mode for a keras preset
    hf_dir: Path | None = None  # the directory of a preprocessor_config.json


def resolve(preprocess: str | Mapping[str, Any] | Path, size: int | None = None) -> Preprocessing:
    """A preset name, a path to a JSON file (a spec or a preprocessor_config.json), or a spec
    as a mapping; ConversionError naming what is wrong."""
    from functions.predict.processing.image_spec import ImageSpec

    if isinstance(preprocess, Mapping):
        return _checked(dict(preprocess), TORCHVISION, "spec", ImageSpec)
    text = str(preprocess)
    if text in PRESETS:
        return _preset(text, size or DEFAULT_SIZE, ImageSpec)
    path = Path(text)
    if not path.is_file():
        raise ConversionError(
            f"--preprocess {text!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON file"
        )
    if size is not None:
        raise ConversionError("--size goes with a preset; a JSON file gives its own sizes")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConversionError(f"--preprocess {path}: not a JSON file ({exc})") from exc
    if isinstance(data, dict) and ("image_processor_type" in data or "do_resize" in data):
        prepared = _checked(from_hf(data, path), TRANSFORMERS, path.name, ImageSpec)
        return Preprocessing(prepared.spec, TRANSFORMERS, path.name, hf_dir=path.parent)
    return _checked(data, TORCHVISION, path.name, ImageSpec)


def _preset(name: str, size: int, spec_type: Any) -> Preprocessing:
    if name == "imagenet":
        spec = {
            "resize": {"shortest_edge": int(size * 256 / 224)},
            "crop": {"height": size, "width": size},
            "rescale": 1 / 255,
            "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD),
        }
        return _checked(spec, TORCHVISION, name, spec_type)
    mode = name.split(":", 1)[1]
    spec = {"resize": {"height": size, "width": size}, "layout": "NHWC"}
    if mode == "tf":
        spec |= {"rescale": 1 / 127.5, "mean": [1.0], "std": [1.0]}
    elif mode == "torch":
        spec |= {"rescale": 1 / 255, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
    else:
        spec |= {"color": "BGR", "mean": list(CAFFE_BGR_MEAN)}
    prepared = _checked(spec, KERAS, name, spec_type)
    return Preprocessing(prepared.spec, KERAS, name, keras_mode=mode)


def from_hf(
    config: Mapping[str, Any], where: Path | str = "preprocessor_config.json"
) -> dict[str, Any]:
    """The spec of a transformers image processor's config (its PIL backend's steps)."""
    unsupported = [k for k in _HF_UNSUPPORTED if config.get(k)]
    unsupported += [f"size.{k}" for k in _HF_UNSUPPORTED if k in (config.get("size") or {})]
    if unsupported:
        raise ConversionError(
            f"{where}: {unsupported} have no step in Slipway's image preprocessing; give a JSON "
            "spec instead (docs/how-to/images.md)"
        )
    spec: dict[str, Any] = {"crop_offset": "floor", "layout": "NCHW"}
    if config.get("do_resize", True):
        size = config.get("size") or {"height": 224, "width": 224}
        if isinstance(size, int):
            size = {"height": size, "width": size}
        spec["resize"] = dict(size)
        resample = config.get("resample", 2)
        if resample not in _PIL_RESAMPLE:
            raise ConversionError(f"{where}: resample {resample!r} is not one of PIL's filters")
        spec["interpolation"] = _PIL_RESAMPLE[resample]
    if config.get("do_center_crop"):
        crop = config.get("crop_size") or {"height": 224, "width": 224}
        spec["crop"] = {"height": crop, "width": crop} if isinstance(crop, int) else dict(crop)
    if config.get("do_rescale", True):
        spec["rescale"] = float(config.get("rescale_factor", 1 / 255))
    if config.get("do_normalize", True):
        spec["mean"] = list(config.get("image_mean") or (0.5, 0.5, 0.5))
        spec["std"] = list(config.get("image_std") or (0.5, 0.5, 0.5))
    return spec


def _checked(spec: dict[str, Any], reference: str, source: str, spec_type: Any) -> Preprocessing:
    try:
        parsed = spec_type.from_dict(spec)
    except ValueError as exc:
        raise ConversionError(f"image preprocessing ({source}): {exc}") from exc
    return Preprocessing(parsed.to_dict(), reference, source)


def read_labels(path: Path) -> tuple[str, ...]:
    """Class labels from a file: one per line (.txt), or a JSON list, or a Hugging Face
    config.json's id2label (index order)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"--labels {path}: cannot be read ({exc})") from exc
    if path.suffix.lower() != ".json":
        labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConversionError(f"--labels {path}: not JSON ({exc})") from exc
        if isinstance(data, dict) and isinstance(data.get("id2label"), dict):
            mapping = {int(k): str(v) for k, v in data["id2label"].items()}
            labels = tuple(mapping.get(i, f"LABEL_{i}") for i in range(max(mapping) + 1))
        elif isinstance(data, list):
            labels = tuple(str(x) for x in data)
        else:
            raise ConversionError(f"--labels {path}: give a list or a config.json with id2label")
    if not labels:
        raise ConversionError(f"--labels {path}: no labels in it")
    return labels
