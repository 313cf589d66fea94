"""The runtime layer: the locked wheels for the target, installed by pip, stripped, zipped.

Cached: the zip is rebuilt only when the lock file, the target or this builder changes (the
cache key records all three), so the local platform's start-up build is fast after the first.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from infra import progress
from infra.build import platforms, zipper
from infra.build.exceptions import DependencyInstallError
from infra.build.platforms import BuildTarget, pip_target_args
from infra.build.report import LAYER_ROOT
from model_store.files import sha256_file

# Directories that are never needed at run time inside an installed package.
STRIP_DIRS = frozenset({"__pycache__", "tests", "test"})
STRIP_SUFFIXES = (".pyc", ".pyo", ".pyi")  # bytecode this machine made; type stubs
# What the function never runs, by path in the installed tree (fnmatch patterns), and why. With
# Pillow and tokenizers the layer was 50.3 MB zipped on arm64 and 51.6 MB on x86_64, over the
# direct-upload limit.
STRIP_PATHS = {
    # C headers for building extensions against a package.
    "*/include/*": "C headers",
    "numpy/f2py/*": "numpy's Fortran wrapper generator",
    # onnxruntime's model tooling (graph optimisation, quantization, conversion scripts);
    # the function only runs sessions (onnxruntime.capi).
    "onnxruntime/transformers/*": "onnxruntime's transformer-model optimiser",
    "onnxruntime/quantization/*": "onnxruntime's quantization tooling",
    "onnxruntime/tools/*": "onnxruntime's conversion scripts",
    # The C API's library (for C/C++ programs and custom-op libraries): the Python extension
    # (onnxruntime_pybind11_state) links no libonnxruntime; it is the whole runtime itself.
    "onnxruntime/capi/libonnxruntime.so*": "onnxruntime's C API library",
    # Pillow's AVIF codec and its text drawing: the function refuses AVIF (forms/media.py)
    # and draws no text; Pillow runs without either (its plugins import them optionally).
    "PIL/_avif.*": "Pillow's AVIF codec",
    "pillow.libs/libavif-*": "the AVIF codec's library",
    "PIL/_imagingft.*": "Pillow's font rendering",
    "pillow.libs/libfreetype-*": "font rendering's library",
    "pillow.libs/libharfbuzz-*": "font rendering's library",
}
# Files whose change alters what this builder produces.
BUILDER_FILES = ("layer.py", "platforms.py", "zipper.py")


def cache_key(lock_text: str, target: BuildTarget) -> str:
    digest = hashlib.sha256()
    digest.update(lock_text.encode())
    digest.update(target.name.encode())
    for name in BUILDER_FILES:
        digest.update((Path(__file__).parent / name).read_bytes())
    # pip writes the installed tree (RECORD, INSTALLER), so its version is part of the builder.
    digest.update(importlib.metadata.version("pip").encode())
    return digest.hexdigest()


def saved_key(key_file: Path) -> dict[str, str]:
    """What the last build wrote to its key file ({} when there is none or it is unreadable)."""
    try:
        saved = json.loads(key_file.read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def cached(layer_zip: Path, key_file: Path, key: str) -> str | None:
    """The layer zip's sha256 when a build with this key produced it, else None."""
    saved = saved_key(key_file)
    if saved.get("key") != key or not layer_zip.is_file():
        return None
    sha = sha256_file(layer_zip)
    return sha if sha == saved.get("sha256") else None


def strip(site: Path) -> int:
    """Remove tests, caches and console scripts from an installed tree; return files removed."""
    removed = 0
    # bin/ holds scripts with this machine's interpreter path: useless in a layer.
    for path in sorted(site.rglob("*"), key=lambda p: -len(p.parts)):
        rel = path.relative_to(site)
        top_level_bin = rel.parts[0] == "bin"
        in_package = len(rel.parts) >= 2 and not rel.parts[0].endswith(".dist-info")
        if path.is_dir() and (
            path.name == "__pycache__" or (in_package and path.name in STRIP_DIRS)
        ):
            removed += sum(1 for p in path.rglob("*") if p.is_file())
            shutil.rmtree(path)
        elif path.is_file() and (
            path.suffix in STRIP_SUFFIXES
            or top_level_bin
            or any(fnmatch.fnmatchcase(rel.as_posix(), pattern) for pattern in STRIP_PATHS)
        ):
            path.unlink()
            removed += 1
    shutil.rmtree(site / "bin", ignore_errors=True)
    for record in sorted(site.glob("*.dist-info/RECORD")):
        _drop_outside_entries(record)
    return removed


def _drop_outside_entries(record: Path) -> None:
    """Drop RECORD lines for files outside the site (the scripts in bin/, removed above).

    Their hashes cover a shebang naming the interpreter that ran pip, which would make the
    layer's digest depend on where it was built.
    """
    lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("../")]
    if kept != lines:
        record.write_text("".join(kept), encoding="utf-8")


def install_command(lock_path: Path, target: BuildTarget, site: Path) -> list[str]:
    """pip installing exactly the locked wheels for target into site (hash-checked).

    `slipway lock` runs the same command as a dry run for every target it records.
    """
    return [
        sys.executable, "-m", "pip", "install", *pip_target_args(target),
        "--require-hashes", "--no-deps", "--no-compile", "--quiet",
        "--target", str(site), "-r", str(lock_path),
    ]  # fmt: skip


def install(lock_path: Path, target: BuildTarget, site: Path) -> None:
    """pip-install exactly the locked wheels for target into site (hash-checked).

    pip says `Collecting NAME==VERSION` per package (without --quiet): that is the progress,
    one step per pinned package of the lock.
    """
    cmd = [a for a in install_command(lock_path, target, site) if a != "--quiet"]
    cmd[cmd.index("install") + 1 : cmd.index("install") + 1] = ["--progress-bar", "off"]
    pinned = sum(1 for ln in lock_path.read_text().splitlines() if "==" in ln.split("#")[0])
    label = f"pip: {lock_path.name} for {target.name}"
    with (
        tempfile.TemporaryFile("w+") as errors,
        progress.task(label, total=pinned or None) as packages,
    ):
        # stderr to a file: a pipe nobody reads could fill and stall pip.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert proc.stdout is not None
        for out in proc.stdout:
            if out.startswith("Collecting "):
                packages.advance(note=out.split()[1])
        code = proc.wait()
        errors.seek(0)
        stderr = errors.read()
    if code != 0:
        raise DependencyInstallError(
            f"pip could not install {lock_path} for {target.name} from {platforms.INDEX_URL}:\n"
            f"{stderr.strip()}"
        )


def install_stripped(
    lock_path: Path, target: BuildTarget, site: Path, label: str, progress: Callable[[str], None]
) -> None:
    """install(), then strip(): what the layer and a function's vendored wheels both get."""
    progress(f"{label}: installing {lock_path} for {target.name} (manylinux wheels from PyPI)")
    install(lock_path, target, site)
    progress(f"{label}: stripped {strip(site)} files (tests, caches, scripts)")


def build_layer(
    lock_path: Path,
    lock_text: str,
    target: BuildTarget,
    out_dir: Path,
    progress: Callable[[str], None],
    use_cache: bool = True,
) -> tuple[Path, str, bool]:
    """Return (layer.zip, sha256, reused)."""
    layer_zip = out_dir / "layer.zip"
    key_file = out_dir / "layer.key.json"
    key = cache_key(lock_text, target)
    sha = cached(layer_zip, key_file, key) if use_cache else None
    if sha:
        progress(f"layer: unchanged lock, target and builder; reusing {layer_zip}")
        return layer_zip, sha, True
    staging = out_dir / "layer-staging"
    shutil.rmtree(staging, ignore_errors=True)
    site = staging / LAYER_ROOT.rstrip("/")
    install_stripped(lock_path, target, site, "layer", progress)
    sha = zipper.write_zip(zipper.iter_tree(site, LAYER_ROOT), layer_zip)
    shutil.rmtree(staging)
    key_file.write_text(json.dumps({"key": key, "sha256": sha}, indent=2) + "\n")
    return layer_zip, sha, False
