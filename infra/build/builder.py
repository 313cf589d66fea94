"""`build()`: the function zip and the runtime layer zip for one target, with a size report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from infra.build import report as reports
from infra.build.exceptions import BuildError, LimitExceeded
from infra.build.function import FUNCTIONS, FunctionSpec, function_entries
from infra.build.layer import build_layer
from infra.build.lockfile import check_covers
from infra.build.platforms import BuildTarget
from infra.build.vendored import check_disjoint, vendored_site
from infra.build.zipper import iter_tree, write_zip
from model_store.files import exclusive_lock

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BuildResult:
    target: BuildTarget
    function_zip: Path  # build/<python>-<arch>/function.zip: our code (+ vendored wheels)
    layer_zip: Path  # build/<python>-<arch>/layer.zip: python/... (unpacked at /opt)
    function_sha256: str
    layer_sha256: str
    report: dict[str, Any]  # also written as build/<python>-<arch>/report.json
    layer_reused: bool = False


def build(
    target: BuildTarget,
    out_dir: Path = Path("build"),
    *,
    progress: Callable[[str], None] | None = None,
    limits: reports.Limits | None = None,
    root: Path = PROJECT_ROOT,
    lock_path: Path | None = None,
    use_cache: bool = True,
    function: str = "predict",
) -> BuildResult:
    """Build the function's zip and the layer zip for target under out_dir/<python>-<arch>/.

    `function` is a name in FUNCTIONS: "predict" (function.zip, report.json) or "flask"
    (flask_function.zip with its locked wheels, flask_report.json); the layer is shared.
    Over a limit the zips are deleted (so nothing over the limit can be deployed), the report
    is kept, and LimitExceeded names the biggest contributors.
    """
    say = progress or (lambda _msg: None)
    if function not in FUNCTIONS:
        raise BuildError(f"function {function!r}: use one of {', '.join(FUNCTIONS)}")
    spec = FUNCTIONS[function]
    lock_path = lock_path or root / "layers" / "requirements.txt"
    lock_text = check_covers(lock_path, target)
    target_dir = out_dir / target.name
    target_dir.mkdir(parents=True, exist_ok=True)

    # One build per target directory at a time (the local platform and a CLI may overlap).
    with exclusive_lock(target_dir / ".build.lock"):
        function_zip = target_dir / spec.zip_name
        entries = function_entries(root, spec.handler_module)
        entries += _vendored_entries(
            spec, root, lock_path, lock_text, target, target_dir, say, use_cache
        )
        function_sha = write_zip(entries, function_zip)
        say(f"function: {function_zip} sha256 {function_sha}")
        layer_zip, layer_sha, reused = build_layer(
            lock_path, lock_text, target, target_dir, say, use_cache
        )
        say(f"layer: {layer_zip} sha256 {layer_sha}")

        report = reports.size_report(
            asdict(target),
            reports.zip_summary(function_zip, function_sha),
            reports.zip_summary(layer_zip, layer_sha, reports.LAYER_ROOT),
            limits or reports.Limits(),
        )
        (target_dir / spec.report_name).write_text(json.dumps(report, indent=2) + "\n")
        try:
            reports.check_limits(report)
        except LimitExceeded:
            for path in (function_zip, layer_zip, target_dir / "layer.key.json"):
                path.unlink(missing_ok=True)
            raise
        return BuildResult(target, function_zip, layer_zip, function_sha, layer_sha, report, reused)


def _vendored_entries(
    spec: FunctionSpec,
    root: Path,
    layer_lock: Path,
    layer_text: str,
    target: BuildTarget,
    target_dir: Path,
    say: Callable[[str], None],
    use_cache: bool,
) -> list[tuple[str, Path]]:
    """(archive name, path) pairs of the spec's locked wheels, at the zip's root (/var/task)."""
    if spec.vendor_lock is None:
        return []
    vendor_lock = root / spec.vendor_lock
    vendor_text = check_covers(vendor_lock, target)
    check_disjoint(vendor_lock, vendor_text, layer_lock, layer_text)
    site = target_dir / (Path(spec.zip_name).stem + "-deps")
    site, _ = vendored_site(vendor_lock, vendor_text, target, site, say, use_cache)
    return list(iter_tree(site))
