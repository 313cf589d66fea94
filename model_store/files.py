"""File helpers shared by the model store, `slipway build` and the local platform.

They live here, the lowest package, because `functions/` and `infra/` both import
`model_store` (and `functions/` must not import `infra/`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    """The file's sha256 (hex), read in blocks so big zips and models are not held in memory."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing) while the block runs.

    For processes on one machine that change the same files (two CLIs, or a CLI and
    `slipway serve`). The kernel drops the lock if the holder dies, so no stale lock is left.
    """
    with path.open("a") as fh:  # "a": never truncates a lock file another process holds
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_json_atomic(
    path: Path, data: Any, *, indent: int | None = None, sync: bool = False
) -> None:
    """Replace `path` with `data` as JSON atomically: a reader in another process sees the old
    file or the new one, whole. `sync` makes it durable (fsync) before the rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=indent)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
