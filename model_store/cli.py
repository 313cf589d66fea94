"""`slipway example | convert | register | models`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from model_store.exceptions import ConversionError

STORE_HELP = (
    "model store: a directory or s3://bucket/prefix (default: $SLIPWAY_STORE or model_store/models)"
)


def register(sub: Any) -> None:
    p = sub.add_parser("example", help="train, convert and register the example digits model")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--name", default="digits")
    p.add_argument("--seed", type=int, default=0, help="another seed gives another model version")
    p.set_defaults(func=cmd_example)

    for verb, helptext in (
        ("convert", "convert a model file to ONNX with a parity check (writes files, no store)"),
        (
            "register",
            "convert a model file (or take an ONNX file) and register it as a new version",
        ),
    ):
        p = sub.add_parser(verb, help=helptext, description=helptext)
        p.add_argument(
            "model",
            type=Path,
            help="scikit-learn (XGBoost/LightGBM estimators too) .joblib/.pkl, XGBoost Booster "
            ".json/.ubj, LightGBM Booster .txt, PyTorch .pt, Keras .keras or .onnx",
        )
        p.add_argument("--name", required=True, help="model name in the store")
        p.add_argument(
            "--sample",
            type=Path,
            help="sample inputs for parity: .npy/.npz, .json rows, .csv (a header row makes it a "
            "DataFrame: one input per column) or .parquet (a DataFrame)",
        )
        p.add_argument(
            "--opset", type=int, help="ONNX opset to convert to (default: the converter's)"
        )
        p.add_argument(
            "--labels", help="comma-separated class labels (PyTorch/Keras/ONNX classifiers)"
        )
        p.add_argument(
            "--atol", type=float, default=1e-4, help="parity absolute tolerance (default 1e-4)"
        )
        p.add_argument(
            "--rtol", type=float, default=1e-3, help="parity relative tolerance (default 1e-3)"
        )
        p.add_argument("--description", default="")
        if verb == "convert":
            p.add_argument(
                "--out", type=Path, required=True, help="output .onnx path (manifest beside it)"
            )
            p.set_defaults(func=cmd_convert)
        else:
            p.add_argument("--store", help=STORE_HELP)
            p.set_defaults(func=cmd_register)

    p = sub.add_parser("models", help="list models and versions with sha256 and parity")
    p.add_argument("name", nargs="?", help="only this model")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--json", action="store_true", help="print manifests as JSON")
    p.set_defaults(func=cmd_models)


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def cmd_example(args: argparse.Namespace) -> int:
    from model_store.backends import open_store
    from model_store.example import build_and_register

    store = open_store(args.store)
    _progress("training the digits example (scikit-learn, fixed seed) and converting to ONNX")
    manifest, created, accuracy = build_and_register(store, name=args.name, seed=args.seed)
    state = "registered" if created else "already registered (identical bytes)"
    print(f"{manifest.ref} {state} in {store}: accuracy {accuracy:.4f}, sha256 {manifest.sha256}")
    return 0


def load_sample(path: Path) -> Any:
    import numpy as np

    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    if suffix == ".csv":
        if _has_header(path):  # named columns: a DataFrame, each column with its own dtype
            return _pandas().read_csv(path)
        # float64, the data's own precision: the original model sees it as is (parity).
        return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    if suffix == ".parquet":
        return _pandas().read_parquet(path)
    if suffix == ".json":
        raw = json.loads(path.read_text())
        raw = raw.get("inputs", raw) if isinstance(raw, dict) else raw
        if isinstance(raw, dict):
            return {k: np.asarray(v) for k, v in raw.items()}
        return np.asarray(raw)
    raise ConversionError(f"sample {path}: use .npy, .npz, .csv, .parquet or .json")


def _has_header(path: Path) -> bool:
    with path.open(newline="") as fh:
        first = fh.readline()
    for field in first.strip().split(","):
        try:
            float(field)
        except ValueError:
            return True
    return False


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise ConversionError(
            "a .csv with a header or a .parquet sample needs pandas: install the convert extra "
            "(pip install 'slipway[convert]')"
        ) from exc
    return pandas


def load_model_file(path: Path) -> Any:
    suffix = path.suffix.lower()
    if not path.exists():
        raise ConversionError(f"{path} does not exist")
    if suffix in (".joblib", ".pkl", ".pickle"):
        import joblib

        return joblib.load(path)  # pickle: only load files you trust
    if suffix in (".pt", ".pth"):
        import torch

        obj = torch.load(path, weights_only=False)
        if isinstance(obj, dict):
            raise ConversionError(
                f"{path} holds a state_dict, not a module; save the module itself (torch.save(model))"
            )
        return obj
    if suffix in (".keras", ".h5"):
        import os

        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras

        return keras.saving.load_model(path)
    if suffix in (".json", ".ubj"):
        import xgboost

        booster = xgboost.Booster()
        try:
            booster.load_model(str(path))
        except xgboost.core.XGBoostError as exc:
            raise ConversionError(
                f"{path} is not an XGBoost model (.json/.ubj model files are read as XGBoost "
                f"Boosters): {str(exc).strip().splitlines()[0][:200]}"
            ) from exc
        return booster
    if suffix == ".txt":
        import lightgbm

        try:
            return lightgbm.Booster(model_file=str(path))
        except lightgbm.basic.LightGBMError as exc:
            raise ConversionError(
                f"{path} is not a LightGBM model (.txt model files are read as LightGBM "
                f"Boosters): {str(exc).strip().splitlines()[0][:200]}"
            ) from exc
    raise ConversionError(f"{path}: unknown model format {suffix!r}")


def _convert(args: argparse.Namespace) -> Any:
    from model_store.convert import convert, from_onnx

    labels = [s.strip() for s in args.labels.split(",")] if args.labels else None
    sample = load_sample(args.sample) if args.sample else None
    if args.model.suffix.lower() == ".onnx":
        _progress(f"checking {args.model}")
        return from_onnx(
            args.model.read_bytes(),
            name=args.name,
            sample=sample,
            labels=labels,
            description=args.description,
        )
    if sample is None:
        raise ConversionError("--sample is required to convert: parity is checked on it")
    _progress(f"loading {args.model}")
    model = load_model_file(args.model)
    _progress("converting to ONNX and checking parity")
    return convert(
        model,
        sample,
        name=args.name,
        atol=args.atol,
        rtol=args.rtol,
        labels=labels,
        opset=args.opset,
        description=args.description,
    )


def _parity_line(manifest: Any) -> str:
    p = manifest.parity
    if p is None:
        return "parity: not checked (ONNX given)"
    return f"parity: max abs {p.max_abs_diff:.2e}, max rel {p.max_rel_diff:.2e} on {p.samples} rows"


def cmd_convert(args: argparse.Namespace) -> int:
    converted = _convert(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(converted.data)
    manifest_path = args.out.with_suffix(".manifest.json")
    manifest_path.write_text(json.dumps(converted.manifest.to_dict(), indent=2) + "\n")
    print(f"wrote {args.out} and {manifest_path}; {_parity_line(converted.manifest)}")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    from model_store.backends import open_store

    converted = _convert(args)
    store = open_store(args.store)
    manifest, created = store.register(converted.data, converted.manifest)
    state = "registered" if created else "already registered (identical bytes)"
    print(f"{manifest.ref} {state} in {store}; sha256 {manifest.sha256}; {_parity_line(manifest)}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from model_store.backends import open_store

    store = open_store(args.store)
    names = [args.name] if args.name else store.names()
    manifests = [m for name in names for m in store.versions(name)]
    if args.json:
        print(json.dumps([m.to_dict() for m in manifests], indent=2))
        return 0
    if not manifests:
        print(f"no models in {store}; run `slipway example` or `slipway register`")
        return 0
    print(f"{'MODEL':<24} {'SHA256':<16} {'SIZE':>9}  {'FRAMEWORK':<14} {'CREATED':<25} PARITY")
    for m in manifests:
        parity = "n/a" if m.parity is None else f"max abs {m.parity.max_abs_diff:.1e}"
        print(
            f"{m.ref:<24} {m.sha256[:16]:<16} {m.size_bytes:>9}  {m.framework:<14} {m.created_at:<25} {parity}"
        )
    return 0
