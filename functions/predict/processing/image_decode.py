"""Encoded image bytes to a Pillow image, safely and no larger than needed.

- The format comes from the bytes (media.py: magic numbers), never from a name or a
  Content-Type: JPEG, PNG, WebP, GIF (first frame) and BMP are decoded; anything else is
  refused, saying what it is (TIFF, HEIC, SVG, JSON, …).
- The pixel count is read from the header, before any pixel is decoded, and refused past the
  configured maximum (Pillow's decompression-bomb guard stays on behind it, at 2x89 MP).
- A JPEG whose pixels will be resized anyway is decoded at a reduced scale (libjpeg's DCT
  scaling, Pillow's `draft`) no smaller than REDUCE_GAP times the size it is resized to: a
  12 MP photo bound for 224x224 decodes at 1/4 scale (bench/photos.py measures speed and the
  difference it makes).
- A progressive JPEG of more than MAX_JPEG_SCANS scans is refused: each scan re-reads the
  whole image, the known way to make a small file decode for seconds.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

from PIL import Image, ImageOps

from functions.predict.exceptions import ImageTooLarge, InvalidImage, UnsupportedImage
from functions.predict.media import BMP, GIF, JPEG, PNG, SUPPORTED, WEBP, describe, image_type

# Pillow's format name for each decoded type: Image.open tries only that one plugin.
FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", GIF: "GIF", BMP: "BMP"}
# libjpeg-turbo's advice for untrusted progressive JPEGs (djpeg -maxscans).
MAX_JPEG_SCANS = 100
# Decode a JPEG at a scale that leaves at least this many times the resize's output size: the
# antialiased resize after it then gives what a full decode would give to a few levels in
# 255 (Pillow's `reducing_gap` reasoning; measured in bench/photos.py).
REDUCE_GAP = 2.0
# Errors Pillow's decoders raise on a truncated or corrupt file (zlib: a bad PNG stream).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
# Our pixel check (at most 80 MP) comes right after open, below Pillow's warning (89 MP).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def open_checked(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """The image's header read and its size checked (nothing decoded yet), and its type."""
    kind = image_type(data)
    if kind is None:
        raise UnsupportedImage(f"the image is {describe(data)}; send a {SUPPORTED} image")
    try:
        image = Image.open(io.BytesIO(data), formats=[FORMATS[kind]])
    except Image.DecompressionBombError as exc:  # past 2x89 MP: Pillow's guard, behind ours
        raise too_large(_header_size(data, kind), max_pixels) from exc
    except _DECODE_ERRORS as exc:  # UnidentifiedImageError is an OSError
        raise InvalidImage(f"the {kind} image cannot be read: {_reason(exc)}") from exc
    width, height = image.size
    if width * height > max_pixels:
        raise too_large((width, height), max_pixels)
    if width < 1 or height < 1:
        raise InvalidImage(f"the {kind} image is {width}x{height}: it has no pixels")
    if kind == JPEG and _scans(data) > MAX_JPEG_SCANS:
        raise InvalidImage(
            f"the JPEG has more than {MAX_JPEG_SCANS} scans: refused, as decoding it would "
            "take far longer than its size suggests; save it as a baseline JPEG"
        )
    return image, kind


def too_large(size: tuple[int, int] | None, max_pixels: int) -> ImageTooLarge:
    what = f"{size[0]}x{size[1]} ({size[0] * size[1]} pixels)" if size else "too large"
    return ImageTooLarge(
        f"the image is {what}; the limit is {max_pixels} pixels (SLIPWAY_MAX_IMAGE_PIXELS): "
        "send a smaller image"
    )


def _header_size(data: bytes, kind: str) -> tuple[int, int] | None:
    """The size in the header of an image Pillow's guard refused to open: its format's
    plugin (Image.OPEN, Pillow's registry) reads the header without the guard."""
    try:
        factory = Image.OPEN[FORMATS[kind]][0]
        size = factory(io.BytesIO(data), "").size
    except Exception:  # only for the message: any failure leaves it unnamed
        return None
    return (int(size[0]), int(size[1]))


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8; 1 when absent or unreadable)."""
    try:
        value = image.getexif().get(0x0112, 1)
    except _DECODE_ERRORS + (KeyError, TypeError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def swaps_axes(value: int) -> bool:
    """Whether EXIF orientation `value` turns the stored image by 90 degrees."""
    return value in (5, 6, 7, 8)


def load(image: Image.Image, kind: str, at_least: tuple[int, int] | None) -> Image.Image:
    """Decode the pixels (a GIF's or an animated WebP's first frame), a JPEG at the smallest
    DCT scale still `at_least` (width, height) in its stored orientation, then turn it
    upright by its EXIF orientation."""
    try:
        if at_least is not None and kind == JPEG:
            want = (max(1, int(at_least[0] * REDUCE_GAP)), max(1, int(at_least[1] * REDUCE_GAP)))
            image.draft(image.mode, want)
        image.load()
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"the {kind} image cannot be decoded: {_reason(exc)}") from exc
    try:
        upright = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS + (KeyError, TypeError):
        return image  # an unreadable EXIF block: the pixels as stored
    return upright if upright is not None else image


def _scans(data: bytes) -> int:
    """Start-of-scan markers in a JPEG (entropy-coded 0xFF bytes are stuffed as FF 00, so
    FF DA occurs only as a marker)."""
    return data.count(b"\xff\xda", 2)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
