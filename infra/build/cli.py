"""`slipway build` (function + layer zips for a target) and `slipway lock` (the layer's lock)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from infra import progress
from infra.build import build, host_target
from infra.build.function import FUNCTIONS
from infra.build.lockfile import DEFAULT_TARGETS, lock
from infra.build.platforms import ARCHES, BuildTarget
from infra.build.report import format_report

DEFAULT_PYTHON = "3.12"  # AWS targets default to Lambda's python3.12


def register(sub: Any) -> None:
    p = sub.add_parser("build", help="build the Lambda function zip and runtime layer zip")
    p.add_argument("--arch", choices=ARCHES, default="arm64", help="default: arm64")
    p.add_argument("--python", default=DEFAULT_PYTHON, help=f"default: {DEFAULT_PYTHON}")
    p.add_argument("--out", type=Path, default=Path("build"), help="default: build")
    p.add_argument("--host", action="store_true", help="this machine's arch and Python instead")
    p.add_argument("--json", action="store_true", help="print the size report as JSON")
    p.add_argument("--no-cache", action="store_true", help="rebuild the layer even if unchanged")
    p.add_argument(
        "--function",
        choices=tuple(FUNCTIONS),
        default="predict",
        help="predict: function.zip (default); flask: flask_function.zip (the Flask API)",
    )
    image = p.add_argument_group("container image (--image)")
    image.add_argument(
        "--image",
        action="store_true",
        help="build the OCI image build/3.13-ARCH/image.oci.tar instead of the zips",
    )
    image.add_argument("--model", metavar="NAME@VERSION", help="bake this store model in")
    image.add_argument(
        "--base",
        default="debian",
        help="debian (default: trixie's Python 3.13 by mmdebstrap, cached), an OCI archive, "
        "or a registry reference with Python 3.13 (e.g. python:3.13-slim; fetched by skopeo)",
    )
    image.add_argument(
        "--timestamp",
        type=int,
        metavar="EPOCH",
        help="every time in the image (default: SOURCE_DATE_EPOCH, else 0)",
    )
    p.set_defaults(func=_build)

    p = sub.add_parser(
        "lock", help="pin pyproject.toml's dependencies (the layer) with hashes, for every target"
    )
    p.add_argument(
        "--requirements",
        type=Path,
        default=Path("pyproject.toml"),
        help="pyproject.toml (its [project].dependencies; default) or a requirements .in file",
    )
    p.add_argument("--out", type=Path, default=Path("layers/requirements.txt"))
    p.add_argument(
        "--target",
        action="append",
        metavar="PYTHON-ARCH",
        help="e.g. 3.12-arm64; repeat for more (default: Python 3.11-3.13 on arm64 and x86_64)",
    )
    p.add_argument(
        "--upgrade",
        action="store_true",
        help="ignore the pins in --out: the newest versions the requirements allow",
    )
    p.set_defaults(func=_lock)


def _say(message: str) -> None:
    progress.line(message)  # timestamped in CI; stderr either way (stdout is the report)


def _build(args: argparse.Namespace) -> int:
    if args.image:
        return _build_image(args)
    target = host_target() if args.host else BuildTarget(args.arch, args.python)
    result = build(
        target, args.out, progress=_say, use_cache=not args.no_cache, function=args.function
    )
    print(json.dumps(result.report, indent=2) if args.json else format_report(result.report))
    return 0


def _build_image(args: argparse.Namespace) -> int:
    # Here, not at the top: every `slipway` command imports this module to build its parser,
    # and the image builder adds 10 ms (-X importtime).
    from infra.image import builder

    arch = args.arch if not args.host else host_target().arch
    result = builder.build_image(
        arch,
        args.out,
        model=args.model,
        store_root=os.environ.get("SLIPWAY_STORE") or None,
        epoch=builder.epoch_from(os.environ, args.timestamp),
        use_cache=not args.no_cache,
        progress=_say,
        base_image=None if args.base == "debian" else args.base,
    )
    _say(f"image: {result.archive}")
    print(
        json.dumps(result.report, indent=2) if args.json else builder.format_report(result.report)
    )
    return 0


def _lock(args: argparse.Namespace) -> int:
    targets = DEFAULT_TARGETS
    if args.target:
        targets = tuple(BuildTarget(*reversed(t.split("-", 1))) for t in args.target)
    print(lock(args.requirements, args.out, targets, progress=_say, upgrade=args.upgrade))
    return 0
