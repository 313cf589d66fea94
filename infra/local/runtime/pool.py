"""Managed concurrency: execution environments scale out on demand up to a limit.

Replaces gunicorn's fixed workers. A request takes an idle environment of its version, or
starts one (a cold start) while fewer than `concurrency` exist, or is throttled (429), as
Lambda does with reserved concurrency. Idle environments are reclaimed after `idle_s`, and
those of versions no alias uses as soon as they are idle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from infra.local.exceptions import Throttled
from infra.local.runtime.environment import Environment
from infra.local.runtime.report import Report
from infra.local.state.store import Version

Spawn = Callable[[Version], Environment]


class Pool:
    def __init__(
        self, spawn: Spawn, *, concurrency: int, idle_s: float, report: Callable[[Report], None]
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._spawn = spawn
        self.concurrency = concurrency
        self.idle_s = idle_s
        self._report = report
        # Every environment counts here from the moment it is decided until its process is
        # gone, so len(envs) never exceeds `concurrency`, whatever interleaves at an await.
        self.envs: list[Environment] = []
        self.peak = 0
        self._removals: set[asyncio.Task[None]] = set()  # kept until done; awaited by close()

    async def invoke(
        self, version: Version, payload: bytes
    ) -> tuple[str, bytes, str | None, Report]:
        env = await self._acquire(version)
        try:
            result = await env.invoke(payload)
            self._report(result[3])
            return result
        finally:
            env.busy = False
            if env.dead or env.retire:
                await self._remove(env)

    async def _acquire(self, version: Version) -> Environment:
        for env in self.envs:
            if (
                not env.busy
                and not env.dead
                and not env.retire
                and env.version.number == version.number
            ):
                env.busy = True
                return env
        if len(self.envs) >= self.concurrency:
            # At the limit: an idle environment of another version makes room, as Lambda
            # would reclaim it; otherwise every environment is busy and the request is throttled.
            victim = next((e for e in self.envs if not e.busy), None)
            if victim is None:
                raise Throttled(
                    f"all {self.concurrency} execution environments are busy (concurrency limit); "
                    "retry, or raise --concurrency"
                )
            victim.busy = True  # nobody else may take it, or its slot, while it goes
            try:
                await victim.kill()  # it stays counted meanwhile: nobody slips in
            finally:
                if victim in self.envs:
                    self.envs.remove(victim)
        # Nothing awaits from the check above (or the victim's removal) to the append.
        env = self._spawn(version)
        env.busy = True
        self.envs.append(env)
        self.peak = max(self.peak, len(self.envs))
        try:
            await env.start()
        except BaseException:
            await self._remove(env)
            raise
        return env

    async def _remove(self, env: Environment) -> None:
        env.busy = True
        try:
            await env.kill()
        finally:  # its slot frees only once its process is gone
            if env in self.envs:
                self.envs.remove(env)

    def retire_unused(self, in_use: set[int]) -> None:
        """Versions no alias uses lose their environments: idle ones now, busy ones after."""
        for env in list(self.envs):
            if env.version.number not in in_use:
                env.retire = True
                if not env.busy:
                    env.busy = True
                    task = asyncio.ensure_future(self._remove(env))
                    self._removals.add(task)
                    task.add_done_callback(self._removals.discard)

    async def reap_forever(self, every_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            now = time.monotonic()
            for env in list(self.envs):
                if not env.busy and (env.dead or now - env.last_used > self.idle_s):
                    env.busy = True
                    await self._remove(env)

    async def close(self) -> None:
        await asyncio.gather(*self._removals, return_exceptions=True)
        for env in list(self.envs):
            await self._remove(env)
