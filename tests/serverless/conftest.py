"""Package serverless.yml with the pinned osls (no AWS account) and hand tests the template.

`osls package` needs the artifacts to exist, not their contents, so these tests point it at
placeholder zips (`--param buildDir=...`); `make deploy-check` packages the real build.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OSLS = ROOT / "node_modules" / ".bin" / "osls"
TEMPLATE = "cloudformation-template-update-stack.json"


def _ensure_osls() -> None:
    if not OSLS.exists():  # installed from package-lock.json, as `make deploy-check` does
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, timeout=300)


def _placeholder_build(build_dir: Path, python: str, arch: str) -> None:
    target_dir = build_dir / f"{python}-{arch}"
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in ("function.zip", "flask_function.zip", "layer.zip"):
        with zipfile.ZipFile(target_dir / name, "w") as zf:
            # A fixed date, so two packagings of the same config give the same version hashes.
            zf.writestr(zipfile.ZipInfo("placeholder.txt", (1980, 1, 1, 0, 0, 0)), name)


def run_package(
    workdir: Path, options: dict[str, str], params: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run `osls package` with the given CLI options and --param values (template in
    workdir/package). An image without the Flask function gets no placeholder zips: it must
    package without any."""
    _ensure_osls()
    build_dir = workdir / "build"
    if not params.get("image") or params.get("flask") == "true":
        _placeholder_build(build_dir, params.get("python", "3.12"), params.get("arch", "arm64"))
    cmd = [str(OSLS), "package", "--package", str(workdir / "package")]
    for key, value in options.items():
        cmd += [f"--{key}", value]
    for key, value in {"buildDir": str(build_dir), "offline": "true", **params}.items():
        cmd += ["--param", f"{key}={value}"]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)


def package(workdir: Path, options: dict[str, str], params: dict[str, str]) -> Path:
    """Run `osls package` (as run_package) and return the template; it must succeed."""
    proc = run_package(workdir, options, params)
    assert proc.returncode == 0, f"osls package failed:\n{proc.stdout}\n{proc.stderr}"
    return workdir / "package" / TEMPLATE


def cfn_lint(template: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(template)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def packaged(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., tuple[Path, dict[str, Any]]]:
    """packaged(stage=..., region=..., **params) -> (template path, template), memoised."""
    seen: dict[str, tuple[Path, dict[str, Any]]] = {}

    def make(**kwargs: str) -> tuple[Path, dict[str, Any]]:
        options = {k: kwargs.pop(k) for k in ("stage", "region") if k in kwargs}
        key = json.dumps([options, kwargs], sort_keys=True)
        if key not in seen:
            path = package(tmp_path_factory.mktemp("sls"), options, kwargs)
            seen[key] = (path, json.loads(path.read_text()))
        return seen[key]

    return make
