"""The JSON manifest that describes one immutable model version.

Pure data: no ONNX or framework imports, so serving code can read manifests cheaply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from model_store.exceptions import ManifestError

SCHEMA_VERSION = 1
MANIFEST_FILE = "manifest.json"
MODEL_FILE = "model.onnx"

Dim = int | str | None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape (None or a symbolic name for a free dimension) and numpy dtype name."""

    name: str
    shape: tuple[Dim, ...]
    dtype: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorSpec:
        return cls(name=str(data["name"]), shape=tuple(data["shape"]), dtype=str(data["dtype"]))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class Column:
    """One column of a tabular model's input: its name, the ONNX input's numpy dtype name
    (float32, or float64 in a double-precision tree model; int64 or str) and the dtype the
    DataFrame it was fitted on had."""

    name: str
    dtype: str
    source_dtype: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Column:
        return cls(
            name=str(data["name"]),
            dtype=str(data["dtype"]),
            source_dtype=str(data.get("source_dtype", "")),
        )


@dataclass(frozen=True)
class Parity:
    """Result of running the original model and the ONNX session on the same inputs."""

    max_abs_diff: float
    max_rel_diff: float
    atol: float
    rtol: float
    samples: int
    passed: bool
    label_mismatches: int = 0
    # Each reference the served path was compared with, and its result (a text model: the
    # tokenizer, transformers, sentence-transformers' encode, the float model of an int8 one).
    checks: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parity:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class Manifest:
    name: str
    version: int
    sha256: str
    size_bytes: int
    framework: str
    framework_version: str
    library_versions: Mapping[str, str]
    opset: Mapping[str, int]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    kind: str = "generic"  # "classifier" | "regressor" | "generic"
    labels: tuple[Any, ...] | None = None
    parity: Parity | None = None
    created_at: str = ""
    description: str = ""
    # One request body that this model accepts; used by smoke tests and load tests.
    example: Mapping[str, Any] | None = None
    # Tabular models fitted on a DataFrame: one input per column, in the DataFrame's order.
    columns: tuple[Column, ...] | None = None
    # The floating-point precision the converted graph computes in: "float32", or "float64"
    # for tree ensembles whose float32 thresholds failed parity; None for a given ONNX file.
    precision: str | None = None
    # What turns a request into the model's inputs and its outputs into an answer (image
    # preprocessing, a tokenizer; labels and top-k, pooling), as plain JSON: {"input": {"kind":
    # "image"|"text", ...}, "output": {"task": "classification"|"embedding", ...}}.
    # functions/predict/processing builds it at init; None for a model fed tensors.
    processing: Mapping[str, Any] | None = None
    # Files stored beside model.onnx in this version (a tokenizer.json), name -> sha256.
    assets: Mapping[str, str] | None = None
    schema: int = field(default=SCHEMA_VERSION)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def with_version(self, version: int, created_at: str) -> Manifest:
        return replace(self, version=version, created_at=created_at)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["inputs"] = [t.to_dict() for t in self.inputs]
        data["outputs"] = [t.to_dict() for t in self.outputs]
        data["labels"] = list(self.labels) if self.labels is not None else None
        data["library_versions"] = dict(self.library_versions)
        data["opset"] = dict(self.opset)
        data["columns"] = [asdict(c) for c in self.columns] if self.columns is not None else None
        data["processing"] = dict(self.processing) if self.processing is not None else None
        data["assets"] = dict(self.assets) if self.assets is not None else None
        return data

    def public_dict(self) -> dict[str, Any]:
        """What GET /model shows: everything but the example body, which can be large."""
        data = self.to_dict()
        data.pop("example", None)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        try:
            if int(data.get("schema", SCHEMA_VERSION)) > SCHEMA_VERSION:
                raise ManifestError(
                    f"manifest schema {data['schema']} is newer than this Slipway understands "
                    f"({SCHEMA_VERSION}); upgrade Slipway"
                )
            labels = data.get("labels")
            parity = data.get("parity")
            columns = data.get("columns")
            return cls(
                name=str(data["name"]),
                version=int(data["version"]),
                sha256=str(data["sha256"]),
                size_bytes=int(data["size_bytes"]),
                framework=str(data["framework"]),
                framework_version=str(data["framework_version"]),
                library_versions=dict(data.get("library_versions", {})),
                opset={str(k): int(v) for k, v in data.get("opset", {}).items()},
                inputs=tuple(TensorSpec.from_dict(t) for t in data["inputs"]),
                outputs=tuple(TensorSpec.from_dict(t) for t in data["outputs"]),
                kind=str(data.get("kind", "generic")),
                labels=tuple(labels) if labels is not None else None,
                parity=Parity.from_dict(parity) if parity else None,
                created_at=str(data.get("created_at", "")),
                description=str(data.get("description", "")),
                example=data.get("example"),
                columns=tuple(Column.from_dict(c) for c in columns) if columns else None,
                precision=str(data["precision"]) if data.get("precision") else None,
                processing=dict(data["processing"]) if data.get("processing") else None,
                assets={str(k): str(v) for k, v in data["assets"].items()}
                if data.get("assets")
                else None,
                schema=int(data.get("schema", SCHEMA_VERSION)),
            )
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"manifest is malformed ({type(exc).__name__}: {exc})") from exc


def parse_ref(ref: str) -> tuple[str, int | None]:
    """Split `name@version` (or a bare `name`, meaning the newest version)."""
    from model_store.exceptions import InvalidReference

    name, sep, version = ref.partition("@")
    if not name or not _valid_name(name):
        raise InvalidReference(
            f"model reference {ref!r}: the name must be letters, digits, '-', '_' or '.'"
        )
    if not sep:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise InvalidReference(f"model reference {ref!r}: the version must be a whole number >= 1")
    return name, int(version)


def _valid_name(name: str) -> bool:
    return (
        len(name) <= 64
        and name[0].isalnum()
        and all(c.isalnum() or c in "-_." for c in name)
        and ".." not in name
    )
