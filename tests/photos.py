"""The two photographs scikit-learn ships (china.jpg, flower.jpg; no download) and variants
made from them in memory: each format and colour mode an upload may come in."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image


@functools.cache
def photos() -> tuple[np.ndarray, ...]:
    """The photos as (427, 640, 3) uint8 RGB arrays."""
    from sklearn.datasets import load_sample_images

    return tuple(np.asarray(a) for a in load_sample_images().images)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    return encode(Image.fromarray(pixels), "JPEG", quality=quality)


def exif_rotated(pixels: np.ndarray) -> tuple[bytes, np.ndarray]:
    """A JPEG stored turned by 90 degrees with EXIF orientation 6 (display rotated 90 CW),
    as phones save portrait photos; and the upright pixels it must decode to."""
    stored = Image.fromarray(pixels).transpose(Image.Transpose.ROTATE_90)  # turned CCW
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", quality=95, exif=exif), pixels


def variants(pixels: np.ndarray) -> dict[str, bytes]:
    """One photo in every form the issue names (and a few more)."""
    image = Image.fromarray(pixels)
    rgba = image.convert("RGBA")
    alpha = np.asarray(rgba).copy()
    alpha[: alpha.shape[0] // 3, :, 3] = 0  # the top third transparent
    palette = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    palette.info["transparency"] = 0
    return {
        "jpeg": jpeg(pixels),
        "png": encode(image, "PNG"),
        "webp": encode(image, "WEBP", quality=90),
        "webp-lossless": encode(image, "WEBP", lossless=True),
        "exif-rotated": exif_rotated(pixels)[0],
        "grayscale": encode(image.convert("L"), "JPEG", quality=90),
        "cmyk": encode(image.convert("CMYK"), "JPEG", quality=90),
        "palette-transparent": encode(palette, "PNG"),
        "rgba": encode(Image.fromarray(alpha), "PNG"),
        "gif": encode(image.convert("P", palette=Image.Palette.ADAPTIVE), "GIF"),
        "bmp": encode(image, "BMP"),
        "png-16bit-gray": png16_gray(pixels),
        "progressive": encode(image, "JPEG", quality=90, progressive=True),
    }


def png16_gray(pixels: np.ndarray) -> bytes:
    """A 16-bit grayscale PNG (Pillow opens it as I;16) of the photo's luma."""
    luma = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.uint16) * 257
    return encode(Image.fromarray(luma), "PNG")


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny IDAT: the decompression bomb's
    shape (the pixel count is refused from the header, before any decoding)."""

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return _png(ihdr, zlib.compress(b"\x00" * 64))


@functools.cache
def bomb_png(side: int = 10_000) -> bytes:
    """A real PNG of side x side black pixels: ~100 KB compressed, 100 MB decoded."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return _png(ihdr, zlib.compress((b"\x00" * (side + 1)) * side, 9))


def _png(ihdr: bytes, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
