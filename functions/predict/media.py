"""What a body is, from its first bytes: the one place images are recognised.

The request forms use it for bodies that come without a Content-Type (huggingface_hub's
InferenceClient sends none) or with a generic one, and the image decoder for every item: the
format comes from the bytes (magic numbers), never from a name or a Content-Type. JPEG, PNG,
WebP, GIF and BMP are taken; others are recognised only to be named in a refusal.
"""

from __future__ import annotations

JPEG, PNG, WEBP, GIF, BMP = "image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"
IMAGE_TYPES = (JPEG, PNG, WEBP, GIF, BMP)
SUPPORTED = "JPEG, PNG, WebP, GIF or BMP"
# Formats recognised only to be named in a refusal: (prefix, offset, what it is).
_OTHERS = (
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypheix", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
    (b"ftypavif", 4, "image/avif"),
    (b"\x00\x00\x00\x0cJXL ", 0, "image/jxl"),
    (b"\xff\x0a", 0, "image/jxl"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
    (b"8BPS", 0, "image/vnd.adobe.photoshop"),
    (b"%PDF", 0, "application/pdf"),
    (b"qoif", 0, "image/qoi"),
)


def image_type(data: bytes) -> str | None:
    """The media type of a JPEG, PNG, WebP, GIF or BMP by its first bytes, else None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:2] == b"BM" and len(head) >= 14:
        return BMP
    return None


def describe(data: bytes) -> str:
    """What bytes that are not a decodable image are, for a refusal's message."""
    if not data:
        return "empty"
    for magic, offset, media in _OTHERS:
        if data[offset : offset + len(magic)] == magic:
            return f"{media}, which is not supported"
    head = data[:512].lstrip()
    lowered = head[:256].lower()
    if b"<svg" in lowered or (lowered.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "image/svg+xml (a vector image), which is not supported"
    if head[:1] in (b"{", b"["):
        return "JSON text, not an image"
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "HTML, not an image"
    try:
        text = data[:24].decode("ascii")
    except UnicodeDecodeError:
        return f"{len(data)} bytes starting {data[:8].hex(' ')}, not an image"
    if text.isprintable():
        return f"text starting {text!r}, not an image"
    return f"{len(data)} bytes starting {data[:8].hex(' ')}, not an image"


def looks_like_json(raw: bytes) -> bool:
    """A body that starts like a JSON object or array (after white space)."""
    return raw.lstrip()[:1] in (b"{", b"[")


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type, lower case, without parameters ("" for none)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()
