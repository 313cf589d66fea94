"""HTTP contenders as pluggable targets: a context manager that starts one, yields where it
listens, and stops it. A target whose parts are missing raises Unavailable with the reason,
and the suite reports that row as "not available: <why>" instead of failing.

To plug another contender in, write a context manager like these and add it to TARGETS.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, cacert: str | None) -> None:
    ctx = ssl.create_default_context(cafile=cacert) if url.startswith("https") else None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Unavailable(f"exited with {proc.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise Unavailable(f"not healthy within {START_TIMEOUT_S:.0f} s: {_tail(log)}")


def _tail(log: Path, n: int = 300) -> str:
    """The log's last non-empty line (a traceback's last line names the error)."""
    lines = (log.read_text(errors="replace") if log.exists() else "").strip().splitlines()
    return lines[-1].strip()[-n:] if lines else "(no output)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )


@contextmanager
def gunicorn_flask(model_ref: str, store_root: str) -> Iterator[Endpoint]:
    """The classic stack: gunicorn, 2 sync workers, Flask, plain HTTP on loopback."""
    if not (BIN / "gunicorn").exists():
        raise Unavailable("gunicorn is not installed (the flask extra)")
    port = free_port()
    env = {**os.environ, "SLIPWAY_MODEL": model_ref, "SLIPWAY_STORE": store_root}
    cmd = [str(BIN / "gunicorn"), "--workers", "2", "--timeout", "300"]
    cmd += ["--bind", f"127.0.0.1:{port}", "functions.flask_api.api:app"]
    with tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as tmp:
        log = Path(tmp, "gunicorn.log")
        proc = _spawn(cmd, env, log)
        try:
            _wait_healthy(f"http://127.0.0.1:{port}/health", proc, log, None)
            yield Endpoint(f"http://127.0.0.1:{port}", note="2 sync workers, HTTP")
        finally:
            _stop(proc)


_CERT = re.compile(r"^TLS certificate: (\S+)", re.M)


@contextmanager
def local_platform(model_ref: str, store_root: str) -> Iterator[Endpoint]:
    """Slipway's local platform over HTTPS: `slipway serve --port P` in a fresh state directory
    (default reserved concurrency), verified against the certificate the command prints."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-local-") as state:
        env = {**os.environ, "SLIPWAY_STORE": store_root}
        cmd = [str(BIN / "slipway"), "serve", "--port", str(port), "--state", state]
        cmd += ["--model", model_ref, "--quiet"]
        log = Path(state, "serve.log")
        proc = _spawn(cmd, env, log)
        try:
            cert = _await_cert(proc, log)
            _wait_healthy(f"https://127.0.0.1:{port}/health", proc, log, cert)
            yield Endpoint(
                f"https://127.0.0.1:{port}",
                cacert=cert,
                note="HTTPS",
                function_log=str(Path(state, "logs", "functions.log")),
            )
        finally:
            _stop(proc)


def _await_cert(proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = _CERT.search(log.read_text(errors="replace")) if log.exists() else None
        if found:
            return found.group(1)
        if proc.poll() is not None:
            raise Unavailable(f"`slipway serve` exited with {proc.returncode}: {_tail(log)}")
        time.sleep(0.2)
    raise Unavailable(f"`slipway serve` printed no certificate: {_tail(log)}")


TARGETS: dict[str, Target] = {
    "gunicorn + Flask (HTTP)": gunicorn_flask,
    "Slipway local platform (HTTPS)": local_platform,
}


_DURATION = re.compile(r"^REPORT .*?\tDuration: ([\d.]+) ms", re.M)


def log_size(path: str | None) -> int:
    return Path(path).stat().st_size if path and Path(path).exists() else 0


def report_durations(path: str | None, offset: int) -> list[float]:
    """Duration of each REPORT line written to `path` after byte `offset`."""
    if not path or not Path(path).exists():
        return []
    with open(path, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode(errors="replace")
    return [float(x) for x in _DURATION.findall(text)]
