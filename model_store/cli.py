"""`slipway example | convert | register | models`.

Every failure is one line on stderr (what was wrong and what to do) and exit status 1; with
`--debug`, the traceback instead. `register` and `convert` call the Python API (api.py).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_store.exceptions import ModelStoreError

STORE_HELP = (
    "model store: a directory or s3://bucket/prefix (default: $SLIPWAY_STORE or model_store/models)"
)
DEBUG_HELP = "show the traceback of an error (errors are one line without it)"
Command = Callable[[argparse.Namespace], int]


def register(sub: Any) -> None:
    from model_store.sources import MODEL_FORMATS, SAMPLE_FORMATS
    from model_store.tolerances import DEFAULT_INT8_ATOL

    p = sub.add_parser("example", help="train, convert and register the example digits model")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--name", default="digits")
    p.add_argument("--seed", type=int, default=0, help="another seed trains another model version")
    p.add_argument(
        "--text",
        action="store_true",
        help="instead: build tiny transformer models from configs (random weights, a tokenizer "
        "trained here; no download) and register a classifier (NAME-classifier) and an "
        "embedding model (NAME-embedding)",
    )
    p.add_argument(
        "--image",
        action="store_true",
        help="instead: train a small PyTorch image classifier on the digits drawn as pictures "
        "(no download) and register it with its preprocessing and labels (NAME digit-pictures)",
    )
    p.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    p.set_defaults(func=one_line(cmd_example))

    for verb, helptext in (
        ("convert", "convert a model file to ONNX with a parity check (writes files, no store)"),
        (
            "register",
            "convert a model file (or take an ONNX file) and register it as a new version",
        ),
    ):
        p = sub.add_parser(verb, help=helptext, description=helptext)
        p.add_argument("model", type=Path, help=MODEL_FORMATS)
        p.add_argument("--name", required=True, help="model name in the store")
        p.add_argument(
            "--sample",
            type=Path,
            help=f"sample inputs for parity: {SAMPLE_FORMATS} (a .csv with a header row or a "
            ".parquet is a DataFrame: one input per column)",
        )
        p.add_argument(
            "--opset", type=int, help="ONNX opset to convert to (default: the converter's)"
        )
        p.add_argument(
            "--labels",
            help="class labels (PyTorch/Keras/ONNX classifiers): comma-separated, or a file of "
            "one label a line, or a Hugging Face config.json (its id2label)",
        )
        p.add_argument(
            "--preprocess",
            help="an image model's preprocessing: imagenet, keras:tf, keras:torch, keras:caffe, "
            "a JSON spec or a preprocessor_config.json (docs/how-to/images.md)",
        )
        p.add_argument("--size", type=int, help="the input size of a --preprocess preset (224)")
        p.add_argument(
            "--sample-images",
            type=Path,
            help="a directory of JPEG/PNG images for the image parity check (default: "
            "scikit-learn's two photos)",
        )
        p.add_argument(
            "--image-atol",
            type=float,
            help="image parity: largest score difference allowed (default 0.02)",
        )
        p.add_argument(
            "--outputs",
            help="comma-separated output names (PyTorch/Keras; default: probabilities, logits "
            "or output)",
        )
        p.add_argument(
            "--atol", type=float, default=1e-4, help="parity absolute tolerance (default 1e-4)"
        )
        p.add_argument(
            "--rtol", type=float, default=1e-3, help="parity relative tolerance (default 1e-3)"
        )
        p.add_argument(
            "--precision",
            choices=("float32", "float64"),
            help="convert in this precision only (default: float32, and double-precision trees "
            "when a tree ensemble fails parity in float32)",
        )
        p.add_argument(
            "--text-column",
            help="a text model's sample: the column holding the texts (default: the only "
            "column, or 'text')",
        )
        p.add_argument(
            "--quantize",
            choices=("int8",),
            help="a transformer's weights in int8 (onnxruntime's dynamic quantization), with "
            "its difference to the float model measured and bounded by --int8-atol",
        )
        p.add_argument(
            "--int8-atol",
            type=float,
            default=DEFAULT_INT8_ATOL,
            help=f"--quantize int8: the largest difference allowed to the float model's "
            f"outputs (default {DEFAULT_INT8_ATOL})",
        )
        p.add_argument(
            "--pooling",
            choices=("mean", "cls", "none"),
            help="a transformer embedding model's pooling (default mean; a sentence-"
            "transformers directory's own); none: every token's vector",
        )
        p.add_argument("--description", default="")
        p.add_argument("--debug", action="store_true", help=DEBUG_HELP)
        if verb == "convert":
            p.add_argument(
                "--out", type=Path, required=True, help="output .onnx path (manifest beside it)"
            )
            p.set_defaults(func=one_line(cmd_convert))
        else:
            p.add_argument("--store", help=STORE_HELP)
            p.set_defaults(func=one_line(cmd_register))

    p = sub.add_parser("models", help="list models and versions with sha256 and parity")
    p.add_argument("name", nargs="?", help="only this model")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--json", action="store_true", help="print manifests as JSON")
    p.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    p.set_defaults(func=one_line(cmd_models))


def one_line(command: Command) -> Command:
    """Run `command`; any error becomes a ModelStoreError of one line, which the CLI prints
    (infra/cli.py) without a traceback. With --debug the traceback is printed instead.

    A missing optional package (ModuleNotFoundError) is left to the CLI, which names the
    extra that installs it."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except ModuleNotFoundError:
            if getattr(args, "debug", False):
                traceback.print_exc()
                return 1
            raise
        except Exception as exc:
            if getattr(args, "debug", False):
                traceback.print_exc()
                return 1
            raise ModelStoreError(_one_line(exc)) from exc

    return run


def _one_line(exc: BaseException) -> str:
    """The error's message on one line; an unexpected error also says how to see more."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if isinstance(exc, ModelStoreError):
        return text
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}; check the path and its mode"
    if type(exc).__module__.startswith(("botocore.", "boto3.")):  # an S3 store
        return (
            f"S3: {text[:300]}; check the AWS credentials (AWS_PROFILE, `aws configure`), the "
            "region and the bucket"
        )
    return (
        f"{type(exc).__name__}: {text[:300]} (unexpected: run again with --debug for the "
        "traceback, and report it if it looks like Slipway's fault)"
    )


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def cmd_example(args: argparse.Namespace) -> int:
    from model_store.backends import open_store
    from model_store.example import build_and_register

    store = open_store(args.store)
    if args.text:
        from model_store.example_text import build_and_register as build_text

        name = args.name if args.name != "digits" else "text"
        _progress("building tiny text models (random weights) and converting them")
        for done in build_text(store, name=name, seed=args.seed, progress=_progress):
            print(f"{done}; {_parity_line(done.manifest)}")
        return 0
    if args.image:
        from model_store.example_image import build_and_register as build_image

        name = args.name if args.name != "digits" else "digit-pictures"
        _progress(f"training a small CNN on the digits as pictures (PyTorch, seed {args.seed})")
        done, accuracy = build_image(store, name=name, seed=args.seed, progress=_progress)
        print(f"{done}: accuracy {accuracy:.4f}; {_parity_line(done.manifest)}")
        return 0
    _progress(f"training the digits example (scikit-learn, seed {args.seed}) and converting")
    manifest, created, accuracy = build_and_register(store, name=args.name, seed=args.seed)
    state = "registered" if created else "already registered (identical bytes)"
    print(f"{manifest.ref} {state} in {store}: accuracy {accuracy:.4f}, sha256 {manifest.sha256}")
    return 0


def _names(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",")] if text else None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The API's arguments from `convert` and `register`'s command line."""
    return {
        "name": args.name,
        "sample": args.sample,
        "labels": Path(args.labels) if _is_file(args.labels) else _names(args.labels),
        "output_names": _names(args.outputs),
        "atol": args.atol,
        "rtol": args.rtol,
        "opset": args.opset,
        "description": args.description,
        "precision": args.precision,
        "progress": _progress,
        "text_column": args.text_column,
        "quantize": args.quantize,
        "int8_atol": args.int8_atol,
        "pooling": args.pooling,
        "preprocess": args.preprocess,
        "size": args.size,
        "sample_images": args.sample_images,
        "image_atol": args.image_atol,
    }


def _is_file(text: str | None) -> bool:
    return bool(text) and Path(str(text)).is_file()


def _parity_line(manifest: Any) -> str:
    p = manifest.parity
    if p is None:
        return "parity: not checked (ONNX given)"
    precision = f", {manifest.precision}" if manifest.precision else ""
    checks = p.checks or {}
    against = [k for k in checks if k not in ("tokens", "tokenizer", "int8")]
    versus = f" against {', '.join(against)}" if against else ""
    int8 = checks.get("int8")
    quantized = (
        f"; int8: {int8['int8_size_bytes']} bytes (float {int8['float_size_bytes']}), max abs "
        f"{int8['max_abs_diff']:.2e} from the float model"
        if int8
        else ""
    )
    return (
        f"parity{versus}: max abs {p.max_abs_diff:.2e}, max rel {p.max_rel_diff:.2e} on "
        f"{p.samples} rows{precision}{quantized}"
    )


def _warn(manifest: Any) -> None:
    """What parity found that did not refuse the model: a text pipeline's tokenizer."""
    from model_store.convert.sk_text import warning

    report = ((manifest.parity and manifest.parity.checks) or {}).get("tokenizer")
    line = warning(report) if report else None
    if line:
        print(f"warning: {line}", file=sys.stderr)


def cmd_convert(args: argparse.Namespace) -> int:
    from model_store.api import convert_model

    converted = convert_model(args.model, **_options(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(converted.data)
    manifest_path = args.out.with_suffix(".manifest.json")
    manifest_path.write_text(json.dumps(converted.manifest.to_dict(), indent=2) + "\n")
    written = [str(args.out), str(manifest_path)]
    for asset, data in (converted.assets or {}).items():  # beside the model, as a store keeps it
        (args.out.parent / asset).write_bytes(data)
        written.append(str(args.out.parent / asset))
    _warn(converted.manifest)
    print(f"wrote {', '.join(written)}; {_parity_line(converted.manifest)}")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    from model_store.api import register as register_model

    done = register_model(args.model, store=args.store, **_options(args))
    manifest = done.manifest
    _warn(manifest)
    print(f"{done}; sha256 {manifest.sha256}; {_parity_line(manifest)}")
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
        where = f"no versions of {args.name!r}" if args.name else "no models"
        print(f"{where} in {store}; run `slipway example` or `slipway register`")
        return 0
    print(f"{'MODEL':<24} {'SHA256':<16} {'SIZE':>9}  {'FRAMEWORK':<14} {'CREATED':<25} PARITY")
    for m in manifests:
        parity = "n/a" if m.parity is None else f"max abs {m.parity.max_abs_diff:.1e}"
        print(
            f"{m.ref:<24} {m.sha256[:16]:<16} {m.size_bytes:>9}  {m.framework:<14} {m.created_at:<25} {parity}"
        )
    return 0
