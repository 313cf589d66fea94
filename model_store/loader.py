"""Turn verified ONNX bytes and their manifest into a ready onnxruntime session.

Used at init of every execution environment: either everything loads and matches the
manifest, or an error says what is wrong and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from model_store.exceptions import ChecksumMismatch, ManifestError, ModelStoreError
from model_store.manifest import Manifest, TensorSpec, sha256_hex

if TYPE_CHECKING:
    import onnxruntime

# onnxruntime's graph rewrites a served session does without. SkipLayerNormFusion turns a
# residual Add + LayerNormalization into SkipLayerNormalization, whose CPU kernel (onnxruntime
# 1.32) is several times slower than the two it replaces: 230 us against 46 us a node at 128
# tokens of hidden 384. Without it the MiniLM-sized bench model runs 4-10% faster in float32
# and 14-29% in int8, at 32 and 128 tokens, batch 1 and 8, one and two threads.
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)

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
    # The session's run for feeds -> all outputs in output_names order (`runner`).
    run: Callable[[dict[str, Any]], list[Any]]


def runner(session: Any, output_names: tuple[str, ...]) -> Callable[[dict[str, Any]], list[Any]]:
    """`session.run(output_names, feeds)` without onnxruntime's Python wrapper when it can.

    The wrapper (InferenceSession.run) checks the feed's names in Python and retries on an
    execution provider's failure with a fallback provider (CUDA/TensorRT only); it costs about
    1.5 µs a call, a tenth of a batch-1 request (bench/hotpath.py). Its compiled session
    checks the names again, as every input's type and shape, and raises the same errors. An
    onnxruntime without that attribute gets the wrapper (tests/model_store/test_loader.py).
    """
    names = list(output_names)
    compiled = getattr(session, "_sess", None)
    compiled_run = getattr(compiled, "run", None)
    public_run = session.run
    if not callable(compiled_run):

        def run(feeds: dict[str, Any]) -> list[Any]:
            return public_run(names, feeds)  # type: ignore[no-any-return]

        return run

    def run_compiled(feeds: dict[str, Any]) -> list[Any]:
        return compiled_run(names, feeds, None)  # type: ignore[no-any-return]

    return run_compiled


def load_model(data: bytes, manifest: Manifest, *, threads: int = 1) -> LoadedModel:
    """Verify `data` against `manifest` and build the session (raises ModelStoreError)."""
    import onnxruntime as ort

    verify_bytes(data, manifest.sha256, f"model {manifest.ref}")
    options = ort.SessionOptions()
    # Lambda gives small functions a fraction of one vCPU: extra threads only add contention.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            data,
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=list(DISABLED_OPTIMIZERS),
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelStoreError(f"onnxruntime could not load model {manifest.ref}: {exc}") from exc
    inputs, outputs = session_specs(session)
    _check_schema("input", manifest.inputs, inputs, manifest.ref)
    _check_schema("output", manifest.outputs, outputs, manifest.ref)
    output_names = tuple(t.name for t in outputs)
    return LoadedModel(
        manifest=manifest,
        session=session,
        input_names=tuple(t.name for t in inputs),
        output_names=output_names,
        run=runner(session, output_names),
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
