"""An earlier commit's prediction function, importable beside today's, for before/after
timings in one interleaved session (`python -m bench.hotpath --baseline REV`).

`git archive REV functions` is unpacked into a temporary folder as the package
`baseline_functions` (its own imports of `functions.` renamed to match); it runs on today's
`model_store`, whose loading API it shares. Nothing is written into the checkout.
"""

from __future__ import annotations

import importlib
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "baseline_functions"
_IMPORT = re.compile(r"\bfunctions\.(predict|flask_api)\b")


def unpack(rev: str, into: Path) -> Path:
    """The commit's `functions/` as `into/baseline_functions`; returns `into`."""
    raw = subprocess.run(
        ["git", "archive", "--format=tar", rev, "functions"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        tar.extractall(into, filter="data")
    (into / "functions").rename(into / PACKAGE)
    for path in (into / PACKAGE).rglob("*.py"):
        path.write_text(_IMPORT.sub(rf"{PACKAGE}.\1", path.read_text()))
    return into


def runtime(rev: str) -> ModuleType:
    """`functions.predict.runtime` as of `rev` (its `build` makes that commit's handler)."""
    if PACKAGE not in sys.modules:
        sys.path.insert(0, str(unpack(rev, Path(tempfile.mkdtemp(prefix="slipway-baseline-")))))
    return importlib.import_module(f"{PACKAGE}.predict.runtime")


def describe(rev: str) -> str:
    """The commit's short hash and subject."""
    out = subprocess.run(
        ["git", "log", "-1", "--format=%h %s", rev], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip() or rev
