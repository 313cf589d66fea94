"""forms/multipart.py: the files of a multipart/form-data body, as clients build them."""

from __future__ import annotations

import httpx
import pytest

from functions.predict.exceptions import InvalidInput, InvalidMultipart, PayloadTooLarge
from functions.predict.forms import multipart
from tests.photos import jpeg, photos


def body(
    files: list[tuple[str, tuple[str, bytes, str]]], data: dict[str, str] | None = None
) -> tuple[bytes, str]:
    """A body and Content-Type as httpx (requests' API, curl -F's encoding) sends them."""
    request = httpx.Request("POST", "http://x/predict", files=files, data=data)
    return request.read(), request.headers["content-type"]


def test_files_in_order_and_fields_apart() -> None:
    one, two = jpeg(photos()[0]), jpeg(photos()[1])
    raw, content_type = body(
        [("image", ("china.jpg", one, "image/jpeg")), ("image", ("flower.jpg", two, "image/jpeg"))],
        {"top_k": "3"},
    )
    assert multipart.is_multipart(content_type)
    assert multipart.parse(raw, content_type) == [one, two]
    form = multipart.parse_form(raw, content_type)
    assert form.fields == {"top_k": "3"} and form.files == [one, two]


def test_a_file_without_a_filename_but_an_image_type_is_a_file() -> None:
    boundary = "b0undary"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="x"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + b"\x89PNG\r\n\x1a\n\r\n--not-the-boundary\r\n"
        + f"\r\n--{boundary}--\r\n".encode()
    )
    files = multipart.parse(raw, f"multipart/form-data; boundary={boundary}")
    assert files == [b"\x89PNG\r\n\x1a\n\r\n--not-the-boundary\r\n"]  # binary kept byte for byte


def test_refusals() -> None:
    raw, content_type = body([("image", ("a.jpg", b"\xff\xd8\xff", "image/jpeg"))])
    with pytest.raises(InvalidMultipart, match="boundary"):
        multipart.parse(raw, "multipart/form-data")
    with pytest.raises(InvalidMultipart, match="closing boundary"):
        multipart.parse(raw[: len(raw) // 2], content_type)
    with pytest.raises(InvalidMultipart):
        multipart.parse(b"garbage without any boundary", content_type)
    fields_only, fields_type = _fields_only()
    with pytest.raises(InvalidInput, match="no file"):
        multipart.parse(fields_only, fields_type)
    many = "".join(
        f'--b\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nx\r\n' for i in range(1001)
    )
    with pytest.raises(PayloadTooLarge):
        multipart.parse((many + "--b--\r\n").encode(), "multipart/form-data; boundary=b")
    assert InvalidMultipart.status == 400


def _fields_only() -> tuple[bytes, str]:
    raw = b'--b\r\nContent-Disposition: form-data; name="top_k"\r\n\r\n3\r\n--b--\r\n'
    return raw, "multipart/form-data; boundary=b"
