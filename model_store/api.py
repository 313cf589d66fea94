"""Register a model from where it was trained (a notebook, a training job):

    from model_store import register

    version = register(model, name="churn", sample=x_test)  # labels=, store=, …
    print(version.ref, version.parity)

`model` is the trained object (a scikit-learn estimator or pipeline, an XGBoost/LightGBM model,
a PyTorch module, torch.export program or TorchScript module, a Keras 3 model, ONNX bytes or
an onnx.ModelProto), the path of a model file, or a Hugging Face transformer directory
(`save_pretrained`), registered with its tokenizer.json; a text model's sample is texts. It
goes through the same conversion, parity check, manifest and store as `slipway register`,
which calls this; its errors are the exceptions of model_store.exceptions (ConversionError,
ParityError, …), with the same one-line messages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_store.backends import Store, open_store
from model_store.convert import DEFAULT_ATOL, DEFAULT_RTOL, Converted, convert, from_onnx
from model_store.exceptions import ConversionError, InvalidReference
from model_store.manifest import Manifest, Parity, parse_ref
from model_store.sources import check_readable, load_model_file, load_sample
from model_store.texts import TEXT_FORMATS, as_texts
from model_store.tolerances import DEFAULT_INT8_ATOL

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Registered:
    """A registered model version: its manifest, and whether this call created it."""

    manifest: Manifest
    created: bool  # False: identical bytes were registered before; that version is returned
    store: str

    @property
    def ref(self) -> str:
        return self.manifest.ref

    @property
    def version(self) -> int:
        return self.manifest.version

    @property
    def parity(self) -> Parity | None:
        return self.manifest.parity

    def __str__(self) -> str:
        state = "registered" if self.created else "already registered (identical bytes)"
        return f"{self.ref} {state} in {self.store}"


def register(
    model: Any,
    *,
    name: str,
    sample: Any = None,
    labels: Sequence[Any] | None = None,
    output_names: Sequence[str] | None = None,
    store: Store | PathLike | None = None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    opset: int | None = None,
    description: str = "",
    precision: str | None = None,
    progress: Callable[[str], None] | None = None,
    text_column: str | None = None,
    quantize: str | None = None,
    int8_atol: float = DEFAULT_INT8_ATOL,
    pooling: str | None = None,
    preprocess: Any = None,
    size: int | None = None,
    sample_images: PathLike | None = None,
    image_atol: float | None = None,
) -> Registered:
    """Convert `model` with a parity check on `sample` and register it as the next version of
    `name` in `store` (a Store, a directory or s3://bucket/prefix; default $SLIPWAY_STORE or
    model_store/models). See `convert_model` for the arguments."""
    converted = convert_model(
        model,
        name=name,
        sample=sample,
        labels=labels,
        output_names=output_names,
        atol=atol,
        rtol=rtol,
        opset=opset,
        description=description,
        precision=precision,
        progress=progress,
        text_column=text_column,
        quantize=quantize,
        int8_atol=int8_atol,
        pooling=pooling,
        preprocess=preprocess,
        size=size,
        sample_images=sample_images,
        image_atol=image_atol,
    )
    target = (
        open_store(_spec(store)) if store is None or isinstance(store, str | os.PathLike) else store
    )
    manifest, created = target.register(converted.data, converted.manifest, converted.assets)
    return Registered(manifest=manifest, created=created, store=str(target))


def convert_model(
    model: Any,
    *,
    name: str,
    sample: Any = None,
    labels: Sequence[Any] | None = None,
    output_names: Sequence[str] | None = None,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    opset: int | None = None,
    description: str = "",
    precision: str | None = None,
    progress: Callable[[str], None] | None = None,
    text_column: str | None = None,
    quantize: str | None = None,
    int8_atol: float = DEFAULT_INT8_ATOL,
    pooling: str | None = None,
    preprocess: Any = None,
    size: int | None = None,
    sample_images: PathLike | None = None,
    image_atol: float | None = None,
) -> Converted:
    """The ONNX bytes and manifest draft for `model`, without registering.

    sample: rows as the model takes them (an array, a DataFrame, arrays by input name) or a
        file of them (.npy, .npz, .csv, .parquet, .json); required unless `model` is ONNX.
    labels: class labels of a PyTorch/Keras/ONNX classifier's outputs.
    output_names: the graph's output names (default: probabilities, logits or output).
    atol, rtol: parity tolerances. opset: the ONNX opset to convert to.
    precision: None tries float32 and, for a tree ensemble that fails parity, double;
        "float32" or "float64" asks for one.
    text_column: the column of a text model's sample that holds the texts (default: the
        only column, or `text`).
    quantize: "int8", a transformer's weights in int8 (onnxruntime's dynamic quantization),
        refused when its outputs differ from the float model's by more than `int8_atol`.
    pooling: a transformer embedding model's pooling, mean (default), cls or none (token
        vectors); a sentence-transformers directory's own is used.
    preprocess: an image model's preprocessing: a preset (imagenet, keras:tf, keras:torch,
        keras:caffe; `size` sets its input size), a JSON spec file or mapping, or a Hugging
        Face preprocessor_config.json; parity is then also checked on `sample_images` (a
        directory; default scikit-learn's two photos) against the framework's reference
        preprocessing, within `image_atol` (model_store/images). `labels` may be a file: one
        label a line, or a config.json's id2label.
    """
    _check_name(name)
    say = progress or (lambda _message: None)
    if isinstance(labels, str | os.PathLike) and Path(labels).is_file():
        from model_store.images import read_labels

        labels = read_labels(Path(labels))
    if preprocess is not None:
        return _image_model(
            model,
            name=name,
            preprocess=preprocess,
            size=size,
            images_dir=sample_images,
            labels=labels,
            output_names=output_names,
            atol=atol,
            rtol=rtol,
            image_atol=image_atol,
            opset=opset,
            description=description,
            say=say,
        )
    if size is not None or sample_images is not None:
        raise ConversionError("--size and --sample-images go with --preprocess (image models)")
    rows = load_sample(Path(sample)) if isinstance(sample, str | os.PathLike) else sample
    if text_column is not None and rows is not None:
        rows = as_texts(rows, text_column)
    onnx_bytes: bytes | None = None
    if isinstance(model, str | os.PathLike) and Path(model).is_dir():
        return _transformers(
            Path(model),
            rows,
            name=name,
            atol=atol,
            rtol=rtol,
            opset=opset,
            description=description,
            quantize=quantize,
            int8_atol=int8_atol,
            pooling=pooling,
            say=say,
        )
    if quantize is not None or pooling is not None:
        raise ConversionError(
            "--quantize and --pooling apply to Hugging Face transformer directories only"
        )
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if path.suffix.lower() == ".onnx":
            onnx_bytes = _read_onnx(path)
        else:
            say(f"loading {path}")
            model = load_model_file(path)
    elif isinstance(model, bytes):
        onnx_bytes = model
    elif type(model).__name__ == "ModelProto" and hasattr(model, "SerializeToString"):
        onnx_bytes = model.SerializeToString()
    if onnx_bytes is not None:
        say("checking the ONNX model")
        return from_onnx(onnx_bytes, name=name, sample=rows, labels=labels, description=description)
    if rows is None:
        raise ConversionError("a sample is required to convert: parity is checked on it")
    say("converting to ONNX and checking parity")
    return convert(
        model,
        rows,
        name=name,
        atol=atol,
        rtol=rtol,
        labels=labels,
        output_names=output_names,
        opset=opset,
        description=description,
        precision=precision,
    )


def _transformers(
    path: Path, rows: Any, *, say: Callable[[str], None], **options: Any
) -> Converted:
    from model_store.convert import hf, hf_export

    if not hf.is_transformers_dir(path):
        raise ConversionError(
            f"model file {path} is a directory; give the file itself, or a Hugging Face "
            "transformer directory (save_pretrained: config.json, weights, tokenizer.json)"
        )
    if rows is None:
        raise ConversionError(
            f"a sample of texts is required to convert {path}: parity is checked on them "
            f"(--sample: {TEXT_FORMATS})"
        )
    say(f"exporting {path} to ONNX (torch.onnx) and checking parity on the served path")
    return hf_export.export(path, as_texts(rows), **options)


def _image_model(model: Any, *, say: Callable[[str], None], **options: Any) -> Converted:
    from model_store.images.register import convert_image_model

    if isinstance(model, str | os.PathLike):
        say(f"loading {model}")
        model = load_model_file(Path(model))
    return convert_image_model(model, say=say, **options)


def _check_name(name: str) -> None:
    """Refuse a bad name before converting, not after (the store would refuse it too)."""
    parsed, version = parse_ref(name)
    if version is not None or parsed != name:
        raise InvalidReference(f"model name {name!r}: give the name alone, without @version")


def _read_onnx(path: Path) -> bytes:
    check_readable(path, "model file")
    return path.read_bytes()


def _spec(store: PathLike | None) -> str | None:
    return os.fspath(store) if store is not None else None
