"""The runtime layer stays free of the conversion libraries tabular models need (issue 16)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONVERSION_ONLY = {
    "pandas", "pyarrow", "xgboost", "xgboost-cpu", "lightgbm", "onnxmltools", "scikit-learn",
    "skl2onnx", "catboost",
}  # fmt: skip


def _name(requirement: str) -> str:
    return re.split(r"[ <>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_layer_lock_and_runtime_dependencies_have_no_conversion_libraries() -> None:
    lock = (REPO / "layers" / "requirements.txt").read_text().splitlines()
    pinned = {_name(line) for line in lock if line and not line.startswith((" ", "#", "-"))}
    assert pinned and not (pinned & CONVERSION_ONLY), sorted(pinned & CONVERSION_ONLY)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    assert not (runtime & CONVERSION_ONLY)
    convert = {_name(r) for r in project["optional-dependencies"]["convert"]}
    assert {"pandas", "xgboost-cpu", "lightgbm", "onnxmltools"} <= convert
