"""Lambda's init limit, counted as elapsed time less the runtime's wait for a CPU."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.local.exceptions import InitFailed
from infra.local.runtime.artifacts import runtime_dir
from infra.local.runtime.environment import Environment
from infra.local.state.store import Version

pytestmark = pytest.mark.integration
FAULTY = str(Path(__file__).parents[2] / "fixtures" / "functions" / "faulty")


def environment(tmp_path: Path, **env: str) -> Environment:
    version = Version(number=1, handler="handler.handler", code=(FAULTY,), env=env)
    return Environment("faulty", version, runtime_dir=str(runtime_dir(tmp_path)), log=print)


def test_an_init_that_sleeps_past_the_limit_times_out(tmp_path: Path) -> None:
    env = environment(tmp_path, FAULTY_INIT_SLEEP_S="30")

    async def start() -> None:
        try:
            await env.start(init_timeout_s=1.0)
        finally:
            await env.kill()

    started = time.monotonic()
    with pytest.raises(InitFailed, match="did not finish in time"):
        asyncio.run(start())
    assert time.monotonic() - started < 10


def test_waiting_for_a_cpu_does_not_count_against_init(tmp_path: Path) -> None:
    """Busy processes on the runtime's CPU slow a cold start down; it still starts.

    The test and its spinners share one CPU (affinity is inherited by the
    environment it spawns), so the runtime gets about a ninth of it whatever
    the rest of the machine is doing: the start takes well over the limit on
    the wall clock, and only the runqueue wait takes it back under.
    """
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    spin = [sys.executable, "-c", "while True: pass"]
    busy = [subprocess.Popen(spin) for _ in range(8)]
    env = environment(tmp_path)

    async def start() -> float:
        try:
            await env.start(init_timeout_s=0.3)  # less than a start takes while crowded
            assert env.init_ms is not None
            return env.init_ms
        finally:
            await env.kill()

    try:
        init_ms = asyncio.run(start())
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
        os.sched_setaffinity(0, before)
    assert init_ms > 300  # it did take longer than the limit on the wall clock
