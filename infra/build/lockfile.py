"""The layer's lock file: exact versions with sha256 hashes, for every target it covers.

`layers/requirements.in` names what the function needs; `slipway lock` resolves it for each
target with pip (wheels only, from PyPI) and writes `layers/requirements.txt` with one
version per package and the hashes of every wheel any target uses. The header records the
targets, so a build for a target the lock never saw is refused up front.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from infra.build.exceptions import DependencyInstallError, LockError
from infra.build.platforms import BuildTarget, pip_target_args

LAYERS_DIR = Path("layers")
REQUIREMENTS_IN = LAYERS_DIR / "requirements.in"
LOCK_FILE = LAYERS_DIR / "requirements.txt"
TARGETS_PREFIX = "# targets: "
DEFAULT_TARGETS = tuple(
    BuildTarget(arch, python) for python in ("3.11", "3.12", "3.13") for arch in ("arm64", "x86_64")
)

Resolved = dict[str, tuple[str, set[str]]]  # name -> (version, sha256 hashes)


def locked_targets(lock_text: str) -> set[str]:
    for line in lock_text.splitlines():
        if line.startswith(TARGETS_PREFIX):
            return set(line[len(TARGETS_PREFIX) :].split())
    return set()


def check_covers(lock_path: Path, target: BuildTarget) -> str:
    """Return the lock's text; raise LockError if it is missing or does not cover target."""
    if not lock_path.is_file():
        raise LockError(f"{lock_path} is missing; run `slipway lock` to create it")
    text = lock_path.read_text(encoding="utf-8")
    covered = locked_targets(text)
    if target.name not in covered:
        raise LockError(
            f"{lock_path} has no hashes for {target.name} (it covers: "
            f"{', '.join(sorted(covered)) or 'nothing'}); "
            "run `slipway lock` with it among the --target values"
        )
    return text


def parse_report(report: dict) -> Resolved:
    """name -> (version, hashes) from a `pip install --report` document."""
    out: Resolved = {}
    for item in report.get("install", []):
        name = item["metadata"]["name"].lower().replace("_", "-")
        digest = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256")
        if not digest:
            raise LockError(f"pip reported no sha256 for {name}")
        out[name] = (item["metadata"]["version"], {digest})
    return out


def merge(per_target: dict[str, Resolved]) -> Resolved:
    """One version per package across targets, with the union of their wheel hashes."""
    merged: Resolved = {}
    disagree: list[str] = []
    for target_name, resolved in sorted(per_target.items()):
        for name, (version, hashes) in resolved.items():
            if name not in merged:
                merged[name] = (version, set(hashes))
            elif merged[name][0] != version:
                disagree.append(f"{name} {merged[name][0]} vs {version} ({target_name})")
            else:
                merged[name][1].update(hashes)
    if disagree:
        raise LockError(
            "targets resolve to different versions; pin them in requirements.in: "
            + "; ".join(disagree)
        )
    return merged


def render(merged: Resolved, targets: Iterable[BuildTarget], source: Path = REQUIREMENTS_IN) -> str:
    what = "The runtime layer's dependencies" if source == REQUIREMENTS_IN else "Dependencies"
    lines = [
        f"# {what}, locked by `slipway lock` from {source.as_posix()}.",
        "# Wheels only, from PyPI; one version per package, hashes of every target's wheel.",
        TARGETS_PREFIX + " ".join(sorted(t.name for t in targets)),
        "",
    ]
    for name in sorted(merged):
        version, hashes = merged[name]
        lines.append(f"{name}=={version} \\")
        lines.extend(f"    --hash=sha256:{h} \\" for h in sorted(hashes)[:-1])
        lines.append(f"    --hash=sha256:{sorted(hashes)[-1]}")
    return "\n".join(lines) + "\n"


def resolve(requirements_in: Path, target: BuildTarget) -> Resolved:
    with tempfile.TemporaryDirectory(prefix="slipway-lock-") as tmp:
        report_path = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pip", "install", *pip_target_args(target),
            "--dry-run", "--ignore-installed", "--quiet", "--report", str(report_path),
            "--target", str(Path(tmp) / "site"), "-r", str(requirements_in),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DependencyInstallError(
                f"pip could not resolve {requirements_in} for {target.name}:\n{proc.stderr.strip()}"
            )
        return parse_report(json.loads(report_path.read_text()))


def lock(
    requirements_in: Path = REQUIREMENTS_IN,
    out: Path = LOCK_FILE,
    targets: Iterable[BuildTarget] = DEFAULT_TARGETS,
    progress: Callable[[str], None] | None = None,
) -> Path:
    targets = list(targets)
    per_target = {}
    for target in targets:
        if progress:
            progress(f"resolving {requirements_in} for {target.name}")
        per_target[target.name] = resolve(requirements_in, target)
    out.write_text(render(merge(per_target), targets, requirements_in), encoding="utf-8")
    return out
