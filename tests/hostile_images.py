"""Hostile images and refused image requests (issue 24), each with the status, code and
words of its documented answer; made when a test runs (the decompression bomb compresses
100 MB), and checked alike on every front end and server."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from PIL import Image

from tests.photos import bomb_png, encode, jpeg, photos, png_header

Request = tuple[bytes, dict[str, str]]  # a body and its headers


def _tiff() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "TIFF")
    return out.getvalue()


def _multipart(parts: list[bytes], close: bool = True) -> tuple[bytes, dict[str, str]]:
    import httpx

    files = [("image", (f"{i}.png", p, "image/png")) for i, p in enumerate(parts)]
    request = httpx.Request("POST", "http://x/predict", files=files)
    raw = request.read()
    if not close:
        raw = raw[: raw.rindex(b"--\r\n") - 40]  # cut before the closing boundary
    return raw, {"content-type": request.headers["content-type"]}


def _corrupt_png() -> bytes:
    data = bytearray(encode(Image.fromarray(photos()[0]), "PNG"))
    data[40:60] = b"\xff" * 20
    return bytes(data)


def _tiny_png() -> bytes:
    return encode(Image.new("RGB", (4, 3), (200, 10, 10)), "PNG")


def photo() -> bytes:
    return jpeg(photos()[0])


def _raw(data: Callable[[], bytes], media: str | None = None) -> Callable[[], Request]:
    return lambda: (data(), {"content-type": media} if media else {})


# (what, the request (made when the test runs), status, code, what the message names)
HOSTILE: list[tuple[str, Callable[[], Request], int, str, str]] = [
    ("pixels-by-header", _raw(lambda: png_header(30_000, 20_000), "image/png"), 413,
     "image_too_large", "30000x20000"),
    ("decompression-bomb", _raw(bomb_png), 413, "image_too_large", "10000x10000"),
    ("tiff", _raw(_tiff, "image/tiff"), 415, "unsupported_image", "image/tiff"),
    ("heic", _raw(lambda: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "image/heic"), 415,
     "unsupported_image", "image/heic"),
    ("svg", _raw(lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
                 "image/svg+xml"), 415, "unsupported_image", "svg"),
    ("pdf-sent-as-jpeg", _raw(lambda: b"%PDF-1.7\n" + b"\x00" * 64, "image/jpeg"), 415,
     "unsupported_image", "application/pdf"),
    ("not-an-image", _raw(lambda: b"\x00\x01\x02\x03" * 16, "application/octet-stream"), 415,
     "unsupported_image", "not an image"),
    ("truncated-jpeg", _raw(lambda: photo()[: len(photo()) // 2], "image/jpeg"), 422,
     "invalid_image", "JPEG"),
    ("corrupt-png", _raw(_corrupt_png, "image/png"), 422, "invalid_image", "PNG"),
    ("multipart-unclosed", lambda: _multipart([_tiny_png()], close=False), 400,
     "invalid_multipart", "closing boundary"),
    ("too-many-images", lambda: _multipart([_tiny_png()] * 33), 413, "payload_too_large",
     "33 images"),
    ("text-plain", _raw(lambda: b"a photo of a cat", "text/plain"), 415,
     "unsupported_media_type", "text/plain"),
    ("hf-not-base64", _raw(lambda: b'{"inputs": "***not base64***"}'), 400, "invalid_base64",
     "base64"),
    ("hf-base64-of-text", _raw(lambda: b'{"inputs": "aGVsbG8gd29ybGQ="}'), 415,
     "unsupported_image", "text"),
    ("tf-instance-rows", _raw(lambda: b'{"instances": [[1, 2, 3]]}', "application/json"), 422,
     "invalid_input", "b64"),
    ("body-over-the-limit", _raw(lambda: photo() + b"\x00" * (5 * 1024 * 1024), "image/jpeg"),
     413, "payload_too_large", "limit"),
]  # fmt: skip


def check_refused(
    case: tuple[str, Callable[[], Request], int, str, str],
    status: int,
    content_type: str | None,
    raw: bytes,
) -> None:
    """An answer to a HOSTILE request: its status and code, JSON naming what was wrong,
    bounded whatever was sent."""
    what, _, want, code, named = case
    assert status == want, (what, raw[:400])
    assert content_type == "application/json", (what, content_type)
    error = json.loads(raw)["error"]
    assert (error["status"], error["code"]) == (want, code), (what, error)
    assert named.lower() in error["message"].lower(), (what, error)
    assert len(raw) < 2000, what


def refuses_each(post: Callable[[bytes, dict[str, str]], Any]) -> None:
    """Every HOSTILE request through `post` (an httpx-like client's POST /predict), then a
    photo, which is served as usual."""
    for case in HOSTILE:
        body, headers = case[1]()
        r = post(body, headers)
        check_refused(case, r.status_code, r.headers.get("content-type"), r.content)
    assert post(photo(), {}).status_code == 200
