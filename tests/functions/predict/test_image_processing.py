"""processing/image.py and image_decode.py: every variant of the two photos decodes to the
tensor its spec asks for; every hostile image gets its status before harm."""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np
import pytest
from PIL import Image

from functions.predict.config import Settings
from functions.predict.exceptions import (
    ImageTooLarge,
    InvalidImage,
    InvalidInput,
    ModelInitError,
    PayloadTooLarge,
    UnsupportedImage,
)
from functions.predict.processing import image_decode
from functions.predict.processing.image import ImageInput, preprocess
from functions.predict.processing.image_spec import ImageSpec
from model_store.manifest import Manifest, TensorSpec
from tests.photos import bomb_png, encode, exif_rotated, photos, png_header, variants

IMAGENET = {
    "resize": {"shortest_edge": 256},
    "crop": {"height": 224, "width": 224},
    "rescale": 1 / 255,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
}
RAW = {"resize": {"height": 64, "width": 96}, "dtype": "uint8", "layout": "NHWC"}
MAX = 40_000_000


def spec(**changes: Any) -> ImageSpec:
    return ImageSpec.from_dict({**IMAGENET, **changes})


def traced(data: bytes, s: ImageSpec) -> dict[str, Any]:
    trace: dict[str, Any] = {}
    preprocess(data, s, MAX, trace)
    return trace


@pytest.fixture(scope="module")
def china() -> dict[str, bytes]:
    return variants(photos()[0])


@pytest.mark.parametrize(
    "name",
    [
        "jpeg",
        "png",
        "webp",
        "webp-lossless",
        "exif-rotated",
        "grayscale",
        "cmyk",
        "palette-transparent",
        "rgba",
        "gif",
        "bmp",
        "png-16bit-gray",
        "progressive",
    ],
)
def test_every_variant_gives_the_spec_tensor(china: dict[str, bytes], name: str) -> None:
    tensor = preprocess(china[name], spec(), MAX)
    assert tensor.shape == (3, 224, 224) and tensor.dtype == np.float32
    assert np.isfinite(tensor).all()
    reference = preprocess(china["png"], spec(), MAX)  # lossless: the photo itself
    # Each variant is the same photo: close to it, except what the variant changes.
    if name in ("jpeg", "webp", "webp-lossless", "exif-rotated", "progressive", "cmyk", "bmp"):
        assert np.abs(tensor - reference).mean() < 0.08, name


def test_exif_orientation_is_applied() -> None:
    data, upright = exif_rotated(photos()[0])
    decoded = traced(data, ImageSpec.from_dict({**RAW, "reduce": False}))["decoded"]
    assert decoded.shape == upright.shape  # 427x640 again, not 640x427
    assert np.abs(decoded.astype(int) - upright).mean() < 3


def test_grayscale_for_an_rgb_model_has_three_equal_channels(china: dict[str, bytes]) -> None:
    tensor = preprocess(china["grayscale"], ImageSpec.from_dict(RAW), MAX)
    assert tensor.shape == (64, 96, 3)
    assert (tensor[..., 0] == tensor[..., 1]).all() and (tensor[..., 1] == tensor[..., 2]).all()


def test_a_grayscale_model_gets_one_channel(china: dict[str, bytes]) -> None:
    tensor = preprocess(china["jpeg"], ImageSpec.from_dict({**RAW, "color": "L"}), MAX)
    assert tensor.shape == (64, 96, 1)


def test_bgr_reverses_the_channels(china: dict[str, bytes]) -> None:
    rgb = preprocess(china["png"], ImageSpec.from_dict(RAW), MAX)
    bgr = preprocess(china["png"], ImageSpec.from_dict({**RAW, "color": "BGR"}), MAX)
    assert (bgr == rgb[..., ::-1]).all()


def test_sixteen_bit_samples_are_scaled_not_clipped(china: dict[str, bytes]) -> None:
    decoded = traced(china["png-16bit-gray"], ImageSpec.from_dict({**RAW, "color": "L"}))
    luma = np.asarray(Image.fromarray(photos()[0]).convert("L"))
    assert (decoded["decoded"] == luma).all()  # Pillow's convert would make it all 255


def test_alpha_dropped_or_composited(china: dict[str, bytes]) -> None:
    dropped = traced(china["rgba"], ImageSpec.from_dict(RAW))["decoded"]
    white = traced(china["rgba"], ImageSpec.from_dict({**RAW, "alpha": "composite"}))["decoded"]
    top = slice(0, photos()[0].shape[0] // 3)
    assert (white[top] == 255).all()  # transparent: the background
    assert (dropped[top] == photos()[0][top]).all()  # Pillow's convert: the colour as stored
    black = {**RAW, "alpha": "composite", "background": [0, 0, 0]}
    assert (traced(china["rgba"], ImageSpec.from_dict(black))["decoded"][top] == 0).all()


def test_palette_transparency_composited(china: dict[str, bytes]) -> None:
    composited = traced(
        china["palette-transparent"], ImageSpec.from_dict({**RAW, "alpha": "composite"})
    )
    palette = Image.open(io.BytesIO(china["palette-transparent"]))
    transparent = np.asarray(palette) == 0
    assert transparent.any() and (composited["decoded"][transparent] == 255).all()


def test_gif_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    tensor = preprocess(
        out.getvalue(), ImageSpec.from_dict({**RAW, "resize": {"height": 8, "width": 8}}), MAX
    )
    assert tensor[..., 0].min() > 200 and tensor[..., 2].max() < 50


def test_resize_and_crop_follow_torchvision_and_transformers_rounding() -> None:
    s = spec()
    assert s.resized(640, 427) == (383, 256)  # int(256 * 640 / 427)
    assert s.resized(427, 640) == (256, 383)
    trace = traced(encode(Image.fromarray(photos()[0]), "PNG"), s)
    assert trace["resized"].shape == (256, 383, 3)
    left_round = int(round((383 - 224) / 2))  # 80 (79.5 rounds to even)
    left_floor = (383 - 224) // 2  # 79
    assert (trace["cropped"] == trace["resized"][16:240, left_round : left_round + 224]).all()
    floor = traced(encode(Image.fromarray(photos()[0]), "PNG"), spec(crop_offset="floor"))
    assert (floor["cropped"] == trace["resized"][16:240, left_floor : left_floor + 224]).all()


def test_normalisation_and_layout() -> None:
    pixels = np.full((300, 300, 3), (255, 0, 128), np.uint8)
    tensor = preprocess(encode(Image.fromarray(pixels), "PNG"), spec(), MAX)
    want = (np.array([1.0, 0.0, 128 / 255]) - np.array(IMAGENET["mean"])) / np.array(
        IMAGENET["std"]
    )
    assert np.allclose(tensor[:, 100, 100], want, atol=1e-6)
    nhwc = preprocess(encode(Image.fromarray(pixels), "PNG"), spec(layout="NHWC"), MAX)
    assert nhwc.shape == (224, 224, 3) and np.allclose(nhwc, tensor.transpose(1, 2, 0))
    assert (
        preprocess(encode(Image.fromarray(pixels), "PNG"), spec(dtype="float16"), MAX).dtype
        == np.float16
    )


def test_large_jpeg_decoded_at_reduced_scale_close_to_full() -> None:
    big = np.asarray(Image.fromarray(photos()[0]).resize((2400, 1600), Image.Resampling.BICUBIC))
    data = encode(Image.fromarray(big), "JPEG", quality=90)
    reduced = traced(data, spec())
    full = traced(data, spec(reduce=False))
    assert reduced["reduced"] and reduced["decoded"].shape == (800, 1200, 3)  # 1/2: >= 2 x 256
    assert not full["reduced"] and full["decoded"].shape == (1600, 2400, 3)
    diff = np.abs(reduced["cropped"].astype(int) - full["cropped"])
    assert diff.mean() < 1.0 and diff.max() <= 12


# -- hostile images ---------------------------------------------------------------------------


def test_pixel_count_refused_from_the_header_naming_the_dimensions() -> None:
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="30000x20000"):
        preprocess(png_header(30_000, 20_000)[:200], spec(), MAX)  # not even complete
    with pytest.raises(ImageTooLarge, match="10000x10000"):
        preprocess(bomb_png(), spec(), MAX)
    assert time.perf_counter() - start < 1.0  # nothing was decoded
    assert ImageTooLarge.status == 413


def test_pillow_guard_stays_behind_the_setting() -> None:
    with pytest.raises(ImageTooLarge, match="pixels"):
        preprocess(png_header(50_000, 50_000), spec(), 10**12)


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"II*\x00" + b"\x00" * 64, "image/tiff"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 32, "image/heic"),
        (b"\x00\x00\x00\x1cftypavif" + b"\x00" * 32, "image/avif"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
        (b'<svg width="10" height="10"></svg>', "svg"),
        (b'{"inputs": [[1, 2]]}', "JSON"),
        (b"hello, this is text", "text"),
        (b"", "empty"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08", "00 01 02"),
        (b"%PDF-1.7\n", "application/pdf"),
    ],
)
def test_not_a_supported_image_is_415_saying_what_it_is(data: bytes, named: str) -> None:
    with pytest.raises(UnsupportedImage, match=named) as caught:
        preprocess(data, spec(), MAX)
    assert caught.value.status == 415


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_files_are_422(china: dict[str, bytes], cut: float) -> None:
    for name in ("jpeg", "png", "webp", "gif"):
        data = china[name]
        with pytest.raises(InvalidImage) as caught:
            preprocess(data[: int(len(data) * cut)], spec(), MAX)
        assert caught.value.status == 422 and name.upper()[:3] in caught.value.message.upper()


def test_corrupt_files_are_422(china: dict[str, bytes]) -> None:
    png = bytearray(china["png"])
    png[40:60] = b"\xff" * 20  # inside IHDR's CRC or the first IDAT
    jpeg = china["jpeg"][:2] + b"\xff\xc0\x00\x03" + b"\x00" * 64
    for data in (bytes(png), jpeg, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a\x00"):
        with pytest.raises(InvalidImage):
            preprocess(data, spec(), MAX)


def test_too_many_progressive_scans_are_refused(
    china: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    scans = image_decode._scans(china["progressive"])
    assert scans > 2 and image_decode._scans(china["jpeg"]) == 1
    monkeypatch.setattr(image_decode, "MAX_JPEG_SCANS", scans - 1)
    with pytest.raises(InvalidImage, match="scans"):
        preprocess(china["progressive"], spec(), MAX)


# -- the spec and ImageInput ------------------------------------------------------------------


def test_spec_round_trips_and_refuses_what_it_cannot_do() -> None:
    s = spec(color="BGR", alpha="composite", layout="NHWC")
    assert ImageSpec.from_dict(s.to_dict()) == s
    bad = [
        {"resize": {"shortest_edge": 256}},  # no output size
        {**IMAGENET, "crop": {"height": 300, "width": 224}},
        {**IMAGENET, "interpolation": "cubic"},
        {**IMAGENET, "mean": [0.5, 0.5]},
        {**IMAGENET, "std": [0, 1, 1]},
        {**IMAGENET, "colour": "RGB"},
        {**RAW, "rescale": 0.5},
        {"crop": {"height": 2, "width": 2}},
    ]
    for data in bad:
        with pytest.raises(ValueError):
            ImageSpec.from_dict(data)


def manifest(shape: list[Any], name: str = "input") -> Manifest:
    return Manifest(
        name="m",
        version=1,
        sha256="0" * 64,
        size_bytes=1,
        framework="onnx",
        framework_version="",
        library_versions={},
        opset={},
        inputs=(TensorSpec(name, tuple(shape), "float32"),),
        outputs=(TensorSpec("probabilities", ("batch", 10), "float32"),),
    )


def test_image_input_feeds_a_batch(china: dict[str, bytes]) -> None:
    made = ImageInput(spec().to_dict(), manifest(["batch", 3, 224, 224]), {}, Settings())
    feeds = made.feeds([china["jpeg"], china["png"], china["webp"]], {})
    assert feeds["input"].shape == (3, 3, 224, 224)


def test_image_input_refusals(china: dict[str, bytes]) -> None:
    made = ImageInput(
        spec().to_dict(), manifest(["batch", 3, 224, 224]), {}, Settings(max_images=2)
    )
    with pytest.raises(PayloadTooLarge, match="3 images"):
        made.feeds([china["jpeg"]] * 3, {})
    with pytest.raises(InvalidInput):
        made.feeds([], {})
    with pytest.raises(InvalidInput, match="text"):
        made.feeds(["a caption"], {})
    with pytest.raises(UnsupportedImage, match="image 1 .*image/tiff"):
        made.feeds([china["jpeg"], b"II*\x00" + b"\x00" * 32], {})
    one = ImageInput(spec().to_dict(), manifest([1, 3, 224, 224]), {}, Settings())
    with pytest.raises(InvalidInput, match="1 image"):
        one.feeds([china["jpeg"]] * 2, {})


def test_image_input_checks_the_model_at_init() -> None:
    for shape, name in (
        (["batch", 224, 224, 3], "input"),
        (["batch", 3, 224, 224], "pixels"),
        (["batch", 10], "input"),
    ):
        with pytest.raises(ModelInitError):
            ImageInput(spec().to_dict(), manifest(shape, name), {}, Settings())
    with pytest.raises(ModelInitError, match="no output size"):
        ImageInput({"resize": {"shortest_edge": 8}}, manifest(["batch", 3, 8, 8]), {}, Settings())
