"""Sample texts for a text model's parity: from a file (.txt one text a line, .jsonl, a .csv or
.parquet column, a .npy or .json of strings) or from what the Python API was given."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model_store.exceptions import ConversionError

TEXT_FORMATS = (
    ".txt (one text a line), .jsonl (a string or an object a line), .csv or .parquet (the "
    "text column: --text-column), .npy or .json of strings"
)
DEFAULT_COLUMN = "text"


def read_txt(path: Path) -> list[str]:
    """One text a line (the line break is not part of it); blank lines are texts too, except
    the file's trailing newline."""
    return path.read_text(encoding="utf-8").removesuffix("\n").split("\n")


def read_jsonl(path: Path) -> list[Any]:
    """One JSON value a line: a string, or an object holding the text (blank lines skipped)."""
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ConversionError(
                f"sample {path} line {number} is not JSON ({exc.msg}); give one string or "
                "object a line"
            ) from exc
    return out


def as_texts(sample: Any, column: str | None = None) -> list[str]:
    """The sample as a list of texts, or the one-line error saying how to give them."""
    values = _values(sample, column)
    texts = []
    for i, value in enumerate(values):
        if hasattr(value, "item") and not isinstance(value, str):
            value = value.item()  # numpy's str_ and 0-d arrays
        if not isinstance(value, str):
            raise ConversionError(
                f"sample row {i} is {type(value).__name__}, not a text: a text model's sample is "
                f"texts, in {TEXT_FORMATS}"
            )
        texts.append(str(value))
    if not texts:
        raise ConversionError("the sample has no texts; parity needs at least one")
    return texts


def _values(sample: Any, column: str | None) -> list[Any]:
    if _is_frame(sample):
        # An empty field of a .csv is read as NaN: in a column of texts, it is an empty text.
        values = sample[_column(list(sample.columns), column)]
        return ["" if v != v else v for v in values]  # NaN is the value unequal to itself
    if isinstance(sample, Mapping):
        return list(sample[_column(list(sample), column)])
    if isinstance(sample, str):
        return [sample]
    rows = list(sample.reshape(-1) if _is_column_array(sample) else sample)
    if rows and all(isinstance(r, Mapping) for r in rows):  # .jsonl objects
        name = _column(list(rows[0]), column)
        missing = [i for i, r in enumerate(rows) if name not in r]
        if missing:
            raise ConversionError(f"sample row {missing[0]} has no field {name!r}")
        return [r[name] for r in rows]
    return rows


def _is_frame(sample: Any) -> bool:
    return type(sample).__name__ == "DataFrame" and hasattr(sample, "columns")


def _is_column_array(sample: Any) -> bool:
    shape = getattr(sample, "shape", None)
    return shape is not None and (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1))


def _column(names: list[Any], column: str | None) -> Any:
    if column is not None:
        if column not in names:
            raise ConversionError(
                f"the sample has no column {column!r}; its columns are {[str(n) for n in names]}"
            )
        return column
    if len(names) == 1:
        return names[0]
    if DEFAULT_COLUMN in names:
        return DEFAULT_COLUMN
    raise ConversionError(
        f"the sample has columns {[str(n) for n in names][:10]}: name the one with the texts "
        "(--text-column, or text_column= in the Python API)"
    )
