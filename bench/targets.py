"""HTTP contenders as pluggable targets: a context manager that starts one, yields where it
listens, and stops it. A target whose parts are missing raises Unavailable with the reason,
and the suite reports that row as "not available: <why>" instead of failing.

To plug another contender in, write a context manager like these and add it to TARGETS.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra import servers

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 180.0  # `slipway serve` may build the artifact on first run


class Unavailable(Exception):
    """Raise when a contender cannot run on this checkout (a part is missing or fails)."""


@dataclass(frozen=True)
class Endpoint:
    host: str  # scheme://127.0.0.1:port
    cacert: str | None = None
    note: str = ""
    function_log: str | None = None  # where REPORT lines go, if the target writes them


Target = Callable[[str, str], AbstractContextManager[Endpoint]]


@contextmanager
def _server(
    cmd: list[str], env: dict[str, str], log: Path, url: str, cafile: str | None = None
) -> Iterator[None]:
    try:
        with servers.running(
            cmd, log=log, env=env, cwd=REPO, url=url, cafile=cafile, timeout=START_TIMEOUT_S
        ):
            yield
    except servers.ServerError as exc:
        raise Unavailable(_tail(str(exc))) from exc


def _tail(text: str, n: int = 300) -> str:
    """The last non-empty line (a traceback's last line names the error)."""
    lines = text.strip().splitlines()
    return lines[-1].strip()[-n:] if lines else "(no output)"


@contextmanager
def gunicorn_flask(model_ref: str, store_root: str) -> Iterator[Endpoint]:
    """The classic stack: gunicorn, 2 sync workers, Flask, plain HTTP on loopback."""
    if not (BIN / "gunicorn").exists():
        raise Unavailable("gunicorn is not installed (the flask extra)")
    port = servers.free_port()
    env = {**os.environ, "SLIPWAY_MODEL": model_ref, "SLIPWAY_STORE": store_root}
    cmd = [str(BIN / "gunicorn"), "--workers", "2", "--timeout", "300"]
    cmd += ["--bind", f"127.0.0.1:{port}", "functions.flask_api.api:app"]
    with tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as tmp:
        log = Path(tmp, "gunicorn.log")
        with _server(cmd, env, log, f"http://127.0.0.1:{port}/health"):
            yield Endpoint(f"http://127.0.0.1:{port}", note="2 sync workers, HTTP")


@contextmanager
def local_platform(model_ref: str, store_root: str) -> Iterator[Endpoint]:
    """Slipway's local platform over HTTPS: `slipway serve --port P` in a fresh state directory
    (default reserved concurrency), verified against the certificate it makes there."""
    port = servers.free_port()
    with tempfile.TemporaryDirectory(prefix="bench-local-") as state:
        env = {**os.environ, "SLIPWAY_STORE": store_root}
        cmd = [str(BIN / "slipway"), "serve", "--port", str(port), "--state", state]
        cmd += ["--model", model_ref, "--quiet"]
        cert = str(Path(state, "tls", "cert.pem"))
        with _server(cmd, env, Path(state, "serve.log"), f"https://127.0.0.1:{port}/health", cert):
            yield Endpoint(
                f"https://127.0.0.1:{port}",
                cacert=cert,
                note="HTTPS",
                function_log=str(Path(state, "logs", "functions.log")),
            )


TARGETS: dict[str, Target] = {
    "gunicorn + Flask (HTTP)": gunicorn_flask,
    "Slipway local platform (HTTPS)": local_platform,
}


def log_size(path: str | None) -> int:
    return Path(path).stat().st_size if path and Path(path).exists() else 0


def report_durations(path: str | None, offset: int, field: str = "Duration") -> list[float]:
    """`field` (Duration, Init Duration, ...) of each REPORT line written after byte `offset`."""
    if not path or not Path(path).exists():
        return []
    with open(path, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace")
    return [float(x) for x in re.findall(rf"^REPORT .*?\t{field}: ([\d.]+) ms", text, re.M)]
