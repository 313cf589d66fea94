"""multipart/form-data bodies (a browser's file upload, `curl -F image=@photo.jpg`): the
files they carry, in order, parsed by python-multipart (Starlette's parser), not by hand.

Every part with a filename, or a Content-Type of image/* or application/octet-stream, is a
file; other parts are plain fields (e.g. `-F top_k=3`), given apart as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from functions.predict.exceptions import InvalidInput, InvalidMultipart, PayloadTooLarge

MEDIA_TYPE = "multipart/form-data"
# Parts in one body, as Starlette's own max_files/max_fields: parsing stays linear anyway.
MAX_PARTS = 1000
MAX_FIELD_CHARS = 1024
_FILE_TYPES = ("image/", "application/octet-stream")


@dataclass
class Form:
    files: list[bytes] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    data: list[bytes] = field(default_factory=list)


def is_multipart(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == MEDIA_TYPE


def parse(raw: bytes, content_type: str) -> list[bytes]:
    """The files of a multipart/form-data body, in order; InvalidMultipart or InvalidInput
    naming what is wrong."""
    form = parse_form(raw, content_type)
    if not form.files:
        fields = sorted(form.fields)
        raise InvalidInput(
            f"the form has no file (fields: {fields}); send each image as a file field, e.g. "
            "curl -F 'image=@photo.jpg'"
        )
    return form.files


def parse_form(raw: bytes, content_type: str) -> Form:
    """The files and the plain fields of a multipart/form-data body."""
    media, options = parse_options_header(content_type)
    if media != MEDIA_TYPE.encode():
        raise InvalidMultipart(f"the Content-Type is {media.decode('latin-1')!r}, not {MEDIA_TYPE}")
    boundary = options.get(b"boundary")
    if not boundary:
        raise InvalidMultipart(
            f"the Content-Type {content_type!r} has no boundary; let the client set it "
            "(curl -F, a browser's FormData), not by hand"
        )
    parts: list[_Part] = []
    header: list[bytes] = [b"", b""]
    ended: list[bool] = []

    def begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise PayloadTooLarge(f"the form has more than {MAX_PARTS} parts")
        parts.append(_Part())

    def header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def header_end() -> None:
        parts[-1].headers[header[0].strip().lower()] = header[1].strip()
        header[0] = header[1] = b""

    def part_data(data: bytes, start: int, end: int) -> None:
        parts[-1].data.append(data[start:end])

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": begin,
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_part_data": part_data,
            "on_end": lambda: ended.append(True),
        },
    )
    try:
        parser.write(raw)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidMultipart(f"the multipart body cannot be parsed: {exc}") from exc
    if not ended:
        raise InvalidMultipart(
            f"the multipart body ends before its closing boundary (--{boundary.decode('latin-1')}--)"
        )
    return _form(parts)


def _form(parts: list[_Part]) -> Form:
    form = Form()
    for i, part in enumerate(parts):
        _, params = parse_options_header(part.headers.get(b"content-disposition", b""))
        kind = parse_options_header(part.headers.get(b"content-type", b""))[0].decode("latin-1")
        data = b"".join(part.data)
        if b"filename" in params or kind.startswith(_FILE_TYPES):
            form.files.append(data)
            continue
        name = params.get(b"name", f"part {i}".encode()).decode("utf-8", "replace")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidMultipart(f"form field {name!r} is not UTF-8 text") from None
        if len(text) > MAX_FIELD_CHARS:
            raise InvalidMultipart(f"form field {name!r} is longer than {MAX_FIELD_CHARS} chars")
        form.fields[name] = text
    return form
