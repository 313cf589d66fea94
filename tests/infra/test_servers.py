"""infra.servers: a real child server is waited for, and always stopped by its pid."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from infra import servers

HTTP = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]
# Ignores SIGTERM (then listens, so "ready" means the handler is in place): only the SIGKILL
# after stop's timeout ends it.
STUBBORN = """
import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)
"""


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_free_port_is_bindable() -> None:
    port = servers.free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("ready", ["port", "url"])
def test_running_waits_until_ready_and_stops_on_exit(tmp_path: Path, ready: str) -> None:
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}/" if ready == "url" else None
    with servers.running(
        [*HTTP, str(port)], log=tmp_path / "log", cwd=tmp_path, port=port, url=url
    ) as proc:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        pid = proc.pid
    assert proc.returncode is not None and gone(pid)


def test_running_stops_the_child_when_the_body_raises(tmp_path: Path) -> None:
    port = servers.free_port()
    with (
        pytest.raises(KeyError),
        servers.running([*HTTP, str(port)], log=tmp_path / "log", port=port) as proc,
    ):
        raise KeyError("boom")
    assert proc.returncode is not None


def test_a_child_that_exits_early_raises_with_its_log(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import sys; print('no model here'); sys.exit(3)"]
    with (
        pytest.raises(servers.ServerError, match="exited with 3(.|\n)*no model here"),
        servers.running(cmd, log=tmp_path / "log", port=servers.free_port(), timeout=30),
    ):
        pytest.fail("never ready")


def test_a_child_that_never_listens_times_out_and_is_stopped(tmp_path: Path) -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    url = f"http://127.0.0.1:{servers.free_port()}/health"
    with (
        pytest.raises(servers.ServerError, match="not answering 200 after 0.5 s"),
        servers.running(cmd, log=tmp_path / "log", url=url, timeout=0.5),
    ):
        pytest.fail("never ready")


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    port = servers.free_port()
    cmd = [sys.executable, "-c", STUBBORN, str(port)]
    with servers.running(cmd, log=tmp_path / "log", port=port) as proc:
        started = time.monotonic()
        servers.stop(proc, timeout=0.5)
    assert proc.returncode == -9 and time.monotonic() - started < 10
