"""Stopping the platform ends everything it started: tasks, environments, the function log."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from infra.local.gateway.server import LocalPlatform
from tests.infra.local.test_gateway_limits import gateway

pytestmark = pytest.mark.integration  # servers and environment processes


def open_fds(path: Path) -> list[str]:
    """This process's descriptors open on `path`."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                found.append(fd)
        except OSError:  # closed meanwhile
            pass
    return found


async def stop_and_list_tasks(platform: LocalPlatform) -> list[str]:
    """stop(), then whatever task of the loop is still not done (this one aside)."""
    await platform.stop()
    me = asyncio.current_task()
    return [repr(t) for t in asyncio.all_tasks() if t is not me and not t.done()]


def test_stop_ends_every_task_and_closes_the_function_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "functions.log"
    with gateway(tmp_path, integration_timeout_s=0.5) as bg:
        lp = bg.platform
        assert httpx.get(bg.url + "/hello", timeout=10).status_code == 200
        # The gateway gives up on this one (504); its invocation still runs when stop comes.
        assert httpx.get(bg.url + "/sleep?ms=1500", timeout=10).status_code == 504
        assert open_fds(log)  # open while serving
        left = bg.call(stop_and_list_tasks(lp))
        assert left == []
        assert open_fds(log) == []
        assert bg.envs() == 0
