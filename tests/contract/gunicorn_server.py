"""A real gunicorn serving the Flask API on a free loopback port, always stopped afterwards."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from infra import servers

APP = "functions.flask_api.api:app"


def command(bind: str) -> list[str]:
    # The README's command on a free loopback port; no control socket, so parallel servers
    # do not share ~/.gunicorn/gunicorn.ctl.
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


@contextmanager
def serve(env: Mapping[str, str], log: Path, timeout: float = 60.0) -> Iterator[str]:
    """Run gunicorn with `env` added to the environment; yield its base URL."""
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    with servers.running(
        command(f"127.0.0.1:{port}"), log=log, env={**os.environ, **env},
        cwd=Path(__file__).resolve().parents[2], url=f"{url}/health", timeout=timeout,
    ):  # fmt: skip
        yield url
