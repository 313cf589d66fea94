"""Unpack built artifacts for execution environments, and provide the runtime itself.

As on Lambda, an environment sees its function code (the task root), its layer, and the
runtime (awslambdaric) — never the developer's virtualenv. Unpacked directories are
content-addressed by the zip's sha256 and written atomically, so versions share them safely.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from model_store.files import sha256_file

RUNTIME_DISTRIBUTIONS = ("awslambdaric", "simplejson", "snapshot-restore-py")


def unpack(zip_path: Path, root: Path, digest: str | None = None) -> Path:
    """Extract `zip_path` once into root/<sha256>/ and return that directory."""
    digest = digest or sha256_file(zip_path)
    dest = root / digest
    if dest.is_dir():
        return dest
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                target = (tmp / info.filename).resolve()
                if not str(target).startswith(str(tmp.resolve()) + os.sep):
                    raise ValueError(f"{zip_path}: entry {info.filename!r} escapes the archive")
            zf.extractall(tmp)
        os.rename(tmp, dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not dest.is_dir():  # another process unpacked it first: fine
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def runtime_dir(state_dir: Path) -> Path:
    """The runtime interface client and its dependencies, copied from their installed files."""
    version = importlib.metadata.version("awslambdaric")
    dest = state_dir / "runtime" / f"awslambdaric-{version}"
    if dest.is_dir():
        return dest
    tmp = Path(tempfile.mkdtemp(prefix=".runtime-", dir=state_dir))
    for name in RUNTIME_DISTRIBUTIONS:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            if "__pycache__" in file.parts or file.parts[0].endswith(".dist-info"):
                continue
            src = Path(str(dist.locate_file(file)))
            if src.is_file():
                (tmp / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, tmp / file)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, dest)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
