"""Pool accounting under concurrency, with environments that start and die without processes."""

from __future__ import annotations

import asyncio

import pytest

from infra.local.exceptions import Throttled
from infra.local.runtime.environment import Environment
from infra.local.runtime.pool import Pool
from infra.local.runtime.report import Report
from infra.local.state.store import Version


class FakeEnvironment(Environment):
    """Starts at once; its kill takes a while, as a real one's does (SIGKILL, wait, cleanup)."""

    live: set[FakeEnvironment] = set()  # started and not yet killed: the processes there would be
    most = 0

    async def start(self, init_timeout_s: float = 10.0) -> None:
        FakeEnvironment.live.add(self)
        FakeEnvironment.most = max(FakeEnvironment.most, len(FakeEnvironment.live))

    async def kill(self) -> None:
        self.dead = True
        await asyncio.sleep(0.05)
        FakeEnvironment.live.discard(self)

    async def invoke(
        self, payload: bytes, trace_id: str = ""
    ) -> tuple[str, bytes, str | None, Report]:
        report = Report("id", self.version.number, 1.0, 1, 128, 1, None)
        return "response", payload, None, report


def version(number: int) -> Version:
    return Version(number=number, handler="handler.handler", code=("/nowhere",), env={})


def pool(concurrency: int) -> Pool:
    FakeEnvironment.live.clear()
    FakeEnvironment.most = 0

    def spawn(v: Version) -> Environment:
        return FakeEnvironment("fn", v, runtime_dir="/nowhere", log=lambda _: None)

    return Pool(spawn, concurrency=concurrency, idle_s=60, report=lambda _: None)


def test_concurrent_acquires_while_a_victim_goes_never_exceed_the_limit() -> None:
    async def scenario() -> list[BaseException | tuple[str, bytes, str | None, Report]]:
        p = pool(concurrency=1)
        await p.invoke(version(1), b"warm")  # one idle environment of version 1
        # Version 2 needs the slot: version 1's idle environment is the victim; while it
        # is killed, more requests arrive for other versions.
        results = await asyncio.gather(
            *(p.invoke(version(n), b"x") for n in (2, 3, 4)), return_exceptions=True
        )
        assert p.peak <= 1 and len(p.envs) <= 1
        await p.close()
        return results

    results = asyncio.run(scenario())
    assert FakeEnvironment.most <= 1  # never two environments alive at once
    ok = [r for r in results if not isinstance(r, BaseException)]
    throttled = [r for r in results if isinstance(r, Throttled)]
    assert len(ok) == 1 and len(throttled) == 2, results


@pytest.mark.parametrize("concurrency", [2, 3])
def test_a_burst_of_new_versions_stays_within_the_limit(concurrency: int) -> None:
    async def scenario() -> None:
        p = pool(concurrency)
        for n in range(concurrency):  # the pool is full of idle environments
            await p.invoke(version(100 + n), b"warm")
        await asyncio.gather(
            *(p.invoke(version(n), b"x") for n in range(10)), return_exceptions=True
        )
        assert p.peak <= concurrency
        await p.close()
        assert p.envs == []

    asyncio.run(scenario())
    assert FakeEnvironment.most <= concurrency


def test_retired_environments_are_removed_by_kept_tasks_and_close_awaits_them() -> None:
    async def scenario() -> None:
        p = pool(concurrency=2)
        await p.invoke(version(1), b"warm")
        p.retire_unused(in_use={2})
        await p.close()  # waits for the retirement, which is not lost or left running
        assert p.envs == [] and not FakeEnvironment.live

    asyncio.run(scenario())
