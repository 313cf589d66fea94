from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from model_store.files import exclusive_lock, sha256_file


def test_sha256_file_hashes_every_block(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 20_000  # several read blocks
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def _try_lock(path: Path) -> str:
    """Ask another process for the lock without waiting: 'got' or 'busy'."""
    code = (
        "import fcntl, sys\n"
        "fh = open(sys.argv[1], 'a')\n"
        "try:\n"
        "    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "    print('got')\n"
        "except BlockingIOError:\n"
        "    print('busy')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_exclusive_lock_holds_other_processes_off_until_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    path.write_text("kept\n")
    with exclusive_lock(path):
        assert _try_lock(path) == "busy"
    assert _try_lock(path) == "got"
    assert path.read_text() == "kept\n"  # taking the lock never truncates the file


def test_exclusive_lock_is_released_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / ".lock"
    with pytest.raises(RuntimeError), exclusive_lock(path):
        raise RuntimeError("boom")
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise BlockingIOError if held
