"""A JSON body: parsed once, with the refusals of text that is not JSON."""

from __future__ import annotations

from typing import Any

import orjson

from functions.predict.exceptions import InvalidInput, InvalidJSON
from functions.predict.messages import clip

_NON_FINITE_TOKENS = (b"NaN", b"Infinity")
# numbers_only: what a body of nested lists of numbers holds besides `{"inputs":}`.
_NUMBER_CHARS = b"0123456789.eE+-,[] \t\n\r"
_INPUTS_ONLY = b'{"inputs":}'


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if not raw.strip():
            raise InvalidJSON('the body is empty; send JSON like {"inputs": [[...]]}') from None
        if any(token in raw for token in _NON_FINITE_TOKENS):
            raise InvalidInput(
                "the body contains NaN or Infinity, which are not JSON numbers; "
                "inputs must be finite numbers"
            ) from exc
        raise InvalidJSON(f"the body is not valid JSON: {clip(str(exc))}") from exc


def numbers_only(raw: bytes) -> bool:
    """Whether the body is exactly `{"inputs": ...}` of nested lists of JSON numbers.

    One C pass over the bytes: delete every character a number or a list can have; a body
    of numbers leaves `{"inputs":}`, while a string, true, false or null leaves letters or
    quotes. It lets `arrays.to_array` convert straight to a float input's dtype.
    """
    return raw.translate(None, _NUMBER_CHARS) == _INPUTS_ONLY
