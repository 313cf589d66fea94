"""Turn verified ONNX bytes and their manifest into a ready onnxruntime session.

Used at init of every execution environment: either everything loads and matches the
manifest, or an error says what is wrong and nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model_store.exceptions import ChecksumMismatch, ManifestError, ModelStoreError
from model_store.manifest import Manifest, TensorSpec, sha256_hex

if TYPE_CHECKING:
    import onnxruntime

# onnxruntime's type strings, as numpy dtype names.
ORT_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "str",
}


def _dim(d: Any) -> int | str | None:
    return d if isinstance(d, int | str) else None


def session_specs(session: Any) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    def specs(args: list[Any]) -> tuple[TensorSpec, ...]:
        return tuple(
            TensorSpec(
                a.name, tuple(_dim(d) for d in (a.shape or [])), ORT_DTYPES.get(a.type, a.type)
            )
            for a in args
        )

    return specs(session.get_inputs()), specs(session.get_outputs())


def verify_bytes(data: bytes, expected_sha256: str, what: str) -> None:
    actual = sha256_hex(data)
    if actual != expected_sha256.lower():
        raise ChecksumMismatch(
            f"{what}: sha256 is {actual} but {expected_sha256} was expected; the file was "
            "changed or corrupted after registration. Register the model again."
        )


@dataclass(frozen=True)
class LoadedModel:
    manifest: Manifest
    session: onnxruntime.InferenceSession
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]


def load_model(data: bytes, manifest: Manifest, *, threads: int = 1) -> LoadedModel:
    """Verify `data` against `manifest` and build the session (raises ModelStoreError)."""
    import onnxruntime as ort

    verify_bytes(data, manifest.sha256, f"model {manifest.ref}")
    options = ort.SessionOptions()
    # Lambda gives small functions a fraction of one vCPU: extra threads only add contention.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelStoreError(f"onnxruntime could not load model {manifest.ref}: {exc}") from exc
    inputs, outputs = session_specs(session)
    _check_schema("input", manifest.inputs, inputs, manifest.ref)
    _check_schema("output", manifest.outputs, outputs, manifest.ref)
    return LoadedModel(
        manifest=manifest,
        session=session,
        input_names=tuple(t.name for t in inputs),
        output_names=tuple(t.name for t in outputs),
    )


def _check_schema(
    kind: str, declared: tuple[TensorSpec, ...], actual: tuple[TensorSpec, ...], ref: str
) -> None:
    want = [(t.name, t.dtype, len(t.shape)) for t in declared]
    got = [(t.name, t.dtype, len(t.shape)) for t in actual]
    if want != got:
        raise ManifestError(
            f"model {ref}: the manifest's {kind}s {want} do not match the ONNX file's {got} "
            "(name, dtype, rank); the manifest belongs to another model. Register it again."
        )
