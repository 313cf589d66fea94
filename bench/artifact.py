"""The built function artifact (function.zip + layer.zip from `slipway build`), unpacked as
Lambda does it: code in the task root, the layer under /opt (here: a temp directory)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from bench.targets import Unavailable

REPO = Path(__file__).resolve().parents[1]
HANDLER = "functions.predict.handler.handler"


def unpack_built(dest: Path) -> list[str]:
    """Build for this machine, unpack into `dest`; return the sys.path Lambda's runtime gives."""
    try:
        from infra.build import build, host_target
    except ImportError as exc:
        raise Unavailable(f"`slipway build` (infra.build) is not in this checkout ({exc})") from exc
    try:
        result = build(host_target(), REPO / "build")
    except Exception as exc:  # any build failure makes the row unavailable, with its reason
        raise Unavailable(f"`slipway build` failed: {type(exc).__name__}: {exc}") from exc
    task, opt = dest / "task", dest / "opt"
    with zipfile.ZipFile(result.function_zip) as zf:
        zf.extractall(task)
    with zipfile.ZipFile(result.layer_zip) as zf:
        zf.extractall(opt)
    py = f"python{sys.version_info.major}.{sys.version_info.minor}"
    # Lambda's Python runtime puts the task root, then /opt/python and its site-packages first.
    candidates = [task, opt / "python", opt / "python" / "lib" / py / "site-packages"]
    return [str(p) for p in candidates if p.is_dir()]
