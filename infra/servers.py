"""Free ports and child servers for tests and benchmarks: start, wait until ready, always stop.

One copy for everything that runs a real server on loopback (moto_server, `slipway serve`,
gunicorn). The child gets its own session, so stopping it by its pid's process group also
stops its workers; it is terminated, then killed if it has not exited after a timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.1


class ServerError(RuntimeError):
    """The server exited or did not become ready in time; the message ends with its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the kernel's pick; a race is possible but rare)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def tail(log: Path | None, chars: int = 2000) -> str:
    if log is None or not log.exists():
        return "(no output)"
    return log.read_text(errors="replace")[-chars:].strip() or "(no output)"


def _exited(proc: subprocess.Popen[bytes] | None, log: Path | None) -> None:
    if proc is not None and proc.poll() is not None:
        raise ServerError(f"{proc.args!r} exited with {proc.returncode}:\n{tail(log)}")


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Until a TCP connect to host:port succeeds; ServerError if `proc` exits or on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        _exited(proc, log)
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise ServerError(f"{host}:{port} not listening after {timeout:g} s:\n{tail(log)}")
        time.sleep(POLL_S)


def _ok(url: str, cafile: str | None) -> bool:
    try:
        # Built per try: a server may write its certificate only as it starts.
        ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
        with urllib.request.urlopen(url, timeout=5, context=ctx) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except OSError:  # refused, reset, TLS, HTTP errors, certificate not there yet
        return False


def wait_for_url(
    url: str,
    timeout: float,
    *,
    cafile: str | None = None,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Until GET url answers 200 (verified against `cafile` for https); ServerError if not."""
    deadline = time.monotonic() + timeout
    while not _ok(url, cafile):
        _exited(proc, log)
        if time.monotonic() > deadline:
            raise ServerError(f"{url} not answering 200 after {timeout:g} s:\n{tail(log)}")
        time.sleep(POLL_S)


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the child's process group (its pid), SIGKILL it if still there after timeout."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def running(
    cmd: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    port: int | None = None,
    url: str | None = None,
    cafile: str | None = None,
    timeout: float = 60.0,
    stop_timeout: float = 15.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `cmd` with output to `log`; wait for `url` (200) or 127.0.0.1:`port`; stop on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(cmd),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if url is not None:
            wait_for_url(url, timeout, cafile=cafile, proc=proc, log=log)
        elif port is not None:
            wait_for_port("127.0.0.1", port, timeout, proc=proc, log=log)
        yield proc
    finally:
        stop(proc, stop_timeout)
