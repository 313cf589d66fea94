"""A real gunicorn serving the Flask API on a free loopback port, always stopped afterwards."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

APP = "functions.flask_api.api:app"
_LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


def command(bind: str = "127.0.0.1:0") -> list[str]:
    # The README's command; port 0 lets the kernel pick a free port (gunicorn logs which), and
    # no control socket, so parallel servers do not share ~/.gunicorn/gunicorn.ctl.
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--timeout",
        "300",
        "--bind",
        bind,
        "--no-control-socket",
        APP,
    ]


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> str:
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log.read_text()}")
        if url is None:
            match = _LISTENING.search(log.read_text())
            url = match.group(1) if match else None
        if url is not None:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                pass  # the worker is still loading the model
        time.sleep(0.1)
    raise TimeoutError(f"gunicorn was not ready in time:\n{log.read_text()}")


@contextmanager
def serve(env: Mapping[str, str], log: Path, timeout: float = 60.0) -> Iterator[str]:
    """Run gunicorn with `env` added to the environment; yield its base URL."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(),
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    try:
        yield _wait_ready(proc, log, time.monotonic() + timeout)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
