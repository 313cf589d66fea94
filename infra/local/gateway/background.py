"""Run a LocalPlatform on its own event loop in a thread (for tests and benchmarks)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from infra.local.gateway.server import LocalPlatform


class BackgroundPlatform:
    def __init__(
        self, platform: LocalPlatform, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self.platform = platform
        self.loop = loop or asyncio.new_event_loop()  # `slipway serve` runs on uvloop's
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="slipway-local", daemon=True
        )
        self.url = ""

    def __enter__(self) -> BackgroundPlatform:
        self._thread.start()
        self.url = self.call(self.platform.start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self.platform.stop(), timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def call(self, coro: Any, timeout: float = 60) -> Any:
        """Run a coroutine on the platform's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def envs(self) -> int:
        return int(self.call(_count(self.platform)))


async def _count(platform: LocalPlatform) -> int:
    return len(platform.pool.envs)
