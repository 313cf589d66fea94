"""Reproducible zip files: sorted entries, fixed timestamps and modes, fixed compression.

The same tree gives byte-identical zips (and so the same sha256) on every run, which is what
lets a deploy tell "nothing changed" from "new code".
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from model_store.files import sha256_file

# The earliest time a zip entry can hold; any fixed value would do.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
COMPRESSION_LEVEL = 9
_FILE_MODE = 0o644
_EXEC_MODE = 0o755


def iter_tree(root: Path, prefix: str = "") -> Iterator[tuple[str, Path]]:
    """Yield (archive name, path) for every file under root, in sorted order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            arc = (rel / name).as_posix() if rel.parts else name
            yield (f"{prefix}{arc}", Path(dirpath) / name)


def _entry(arcname: str, path: Path) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
    executable = os.access(path, os.X_OK)
    # Unix permissions in the high bits; only "executable or not" survives from the disk.
    info.external_attr = ((_EXEC_MODE if executable else _FILE_MODE) | 0o100000) << 16
    info.create_system = 3  # Unix, so Lambda honours the modes
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def write_zip(entries: Iterable[tuple[str, Path]], out: Path) -> str:
    """Write entries (sorted by archive name) to out; return the zip's sha256."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with zipfile.ZipFile(tmp, "w", compresslevel=COMPRESSION_LEVEL) as zf:
        for arcname, path in sorted(entries, key=lambda e: e[0]):
            zf.writestr(_entry(arcname, path), path.read_bytes(), compresslevel=COMPRESSION_LEVEL)
    tmp.replace(out)
    return sha256_file(out)
