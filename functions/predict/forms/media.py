"""What a body is, from its first bytes: the request forms' sniffing, for bodies that come
without a Content-Type (huggingface_hub's InferenceClient sends none) or with a generic one.

The magic numbers are the formats' own: JPEG (SOI + marker), PNG's signature, GIF87a/89a,
RIFF....WEBP, BMP's "BM"; and, to name them when refused, TIFF, HEIF/HEIC/AVIF (ISO BMFF
`ftyp` brands), SVG and PDF.
"""

from __future__ import annotations

# Formats an image model takes (Pillow decodes them) -> their media type.
IMAGE_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
}
# Recognised but not taken: named in the refusal.
OTHER_TYPES = {
    "tiff": "image/tiff",
    "heic": "image/heic",
    "avif": "image/avif",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}


def sniff(raw: bytes) -> str | None:
    """The format of `raw` by its magic number ("jpeg", "png", …, "tiff", "svg"), or None."""
    head = raw[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 14:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in _HEIF_BRANDS:
            return "heic"
    if head.startswith(b"%PDF-"):
        return "pdf"
    text = head.lstrip()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in raw[:1024]):
        return "svg"
    return None


def looks_like_json(raw: bytes) -> bool:
    """A body that starts like a JSON object or array (after white space)."""
    return raw.lstrip()[:1] in (b"{", b"[")


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type, lower case, without parameters ("" for none)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()
