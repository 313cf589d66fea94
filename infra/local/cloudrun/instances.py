"""Cloud Run's data plane on this machine: instances of a revision's image, scaled on demand.

An instance is a container of the image in HTTP mode (`infra.image.run.spec`: PORT, K_SERVICE,
K_REVISION), started by a `Launcher`, ready once its startup probe (GET /health) answers 200,
and taking up to `concurrency` requests at once (Cloud Run's containerConcurrency).

A request takes a slot on the oldest ready instance of its revision with one free: packing, as
Cloud Run does, so spare instances go idle and are reclaimed. Otherwise it waits, and while
fewer than `max_instances` of the revision exist and the instances already starting cannot take
every waiting request, another one starts. A request waits at most `pending_s` (Cloud Run queues
for up to 60 s when it cannot scale out, then answers 429). `min_instances` stay warm for each
revision that has traffic; an instance idle for `idle_s` gets SIGTERM and GRACE_S to exit, as
Cloud Run stops one. Nothing here is per-request work beyond a list scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from infra import servers
from infra.image.run import GRACE_S
from infra.local.exceptions import InvokeError, Throttled
from infra.local.state.store import Version

MAX_PENDING_S = 60.0  # Cloud Run: a request waits this long for an instance, then 429


class InstanceFailed(InvokeError):
    """Raise when an instance fails to start or its connection breaks (Cloud Run's 503)."""

    status = 503
    error_type = "InstanceFailed"


@dataclass(eq=False)
class Instance:
    id: str
    version: Version
    name: str  # the container's
    port: int
    started_at: float = field(default_factory=time.monotonic)
    state: str = "starting"  # starting, ready, stopping
    in_flight: int = 0
    served: int = 0
    ready_ms: float | None = None  # start -> first 200 from the startup probe
    last_used: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def revision(self) -> int:
        return self.version.number


class Launcher(Protocol):
    async def start(self, instance: Instance) -> None:
        """Start the instance's container; return once it is ready, else raise InstanceFailed."""
        ...

    async def stop(self, instance: Instance, grace_s: int) -> None:
        """SIGTERM, SIGKILL after grace_s, and the container removed."""
        ...


class Instances:
    def __init__(
        self,
        launcher: Launcher,
        *,
        concurrency: int,
        max_instances: int,
        min_instances: int = 0,
        idle_s: float = 300.0,
        pending_s: float = MAX_PENDING_S,
        lookup: Callable[[int], Version | None] = lambda n: None,
        before_stop: Callable[[Instance], Awaitable[None]] | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        if concurrency < 1 or max_instances < 1 or not 0 <= min_instances <= max_instances:
            raise ValueError("need concurrency >= 1 and 0 <= min-instances <= max-instances >= 1")
        self.launcher = launcher
        self.concurrency = concurrency
        self.max_instances = max_instances
        self.min_instances = min_instances
        self.idle_s = idle_s
        self.pending_s = pending_s
        self.log = log
        self._lookup = lookup  # a revision's Version, for min_instances before any request
        # Called before SIGTERM: the front end lets go of its kept-alive connections first, as
        # a server stopping gracefully waits for open connections (granian: up to its kill timeout).
        self._before_stop = before_stop
        self.envs: list[Instance] = []  # every instance from its start until its container is gone
        self.in_use: set[int] = set()  # revisions with traffic (min_instances apply to them)
        self.started: Counter[int] = Counter()
        self.stopped: Counter[int] = Counter()
        self.peak: Counter[int] = Counter()
        self._waiting: Counter[int] = Counter()
        self._failures: dict[int, deque[tuple[float, str]]] = {}
        self._ids = itertools.count(1)
        self._changed: asyncio.Condition | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:  # made in the running loop
            self._changed = asyncio.Condition()
        return self._changed

    def of(self, revision: int) -> list[Instance]:
        return [i for i in self.envs if i.revision == revision and i.state != "stopping"]

    # -- requests ---------------------------------------------------------------------------
    async def acquire(self, version: Version) -> Instance:
        """A slot on an instance of `version`, started if need be; Throttled after pending_s."""
        loop = asyncio.get_running_loop()
        arrived = loop.time()
        deadline = arrived + self.pending_s
        n = version.number
        changed = self._condition()
        async with changed:
            self._waiting[n] += 1
            try:
                while True:
                    free = next(
                        (
                            i
                            for i in self.envs
                            if i.revision == n
                            and i.state == "ready"
                            and i.in_flight < self.concurrency
                        ),
                        None,
                    )
                    if free is not None:
                        free.in_flight += 1
                        return free
                    failed = self._failed_since(n, arrived)
                    if failed is not None:
                        raise InstanceFailed(failed)
                    self._scale_out(version)
                    left = deadline - loop.time()
                    if left <= 0:
                        raise Throttled(
                            f"no instance of revision {n} was available within "
                            f"{self.pending_s:g} s: all {len(self.of(n))} instances "
                            f"(max-instances {self.max_instances}) have {self.concurrency} "
                            "requests each (concurrency); retry, or raise --max-instances"
                        )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), left)
            finally:
                self._waiting[n] -= 1

    async def release(self, instance: Instance, *, broken: bool = False) -> None:
        instance.in_flight -= 1
        instance.served += 1
        instance.last_used = time.monotonic()
        if broken and instance.state != "stopping":
            self._stop(instance, grace_s=0)
        changed = self._condition()
        async with changed:
            changed.notify_all()

    def _failed_since(self, n: int, since: float) -> str | None:
        for at, message in self._failures.get(n, ()):
            if at >= since:
                return message
        return None

    # -- scaling ----------------------------------------------------------------------------
    def _scale_out(self, version: Version) -> None:
        """Start an instance when the starting ones cannot take every waiting request."""
        n = version.number
        mine = self.of(n)
        starting = sum(1 for i in mine if i.state == "starting")
        if len(mine) < self.max_instances and self._waiting[n] > starting * self.concurrency:
            self._launch(version)

    def _launch(self, version: Version) -> None:
        instance = Instance(
            f"{next(self._ids):04d}",
            version,
            f"slipway-cr-{version.number}-{time.time_ns() % 10**9:09d}",
            servers.free_port(),
        )
        self.envs.append(instance)
        self.started[version.number] += 1
        self.peak[version.number] = max(self.peak[version.number], len(self.of(version.number)))
        self._spawn(self._start(instance))

    async def _start(self, instance: Instance) -> None:
        try:
            await self.launcher.start(instance)
            instance.ready_ms = (time.monotonic() - instance.started_at) * 1000
            instance.state = "ready"
            instance.last_used = time.monotonic()
            self.log(
                f"revision {instance.revision}: instance {instance.id} ready in "
                f"{instance.ready_ms:.0f} ms ({len(self.of(instance.revision))} running)"
            )
        except Exception as exc:  # a failed start fails the requests waiting for it (503)
            message = str(exc) if isinstance(exc, InstanceFailed) else repr(exc)
            self._failures.setdefault(instance.revision, deque(maxlen=8)).append(
                (asyncio.get_running_loop().time(), message)
            )
            self.log(f"revision {instance.revision}: instance {instance.id} failed: {message}")
            instance.state = "stopping"
            with contextlib.suppress(Exception):
                await self.launcher.stop(instance, 0)
            self._forget(instance)
        finally:
            changed = self._condition()
            async with changed:
                changed.notify_all()

    def _stop(self, instance: Instance, grace_s: int = GRACE_S) -> None:
        instance.state = "stopping"  # takes no new request from now on
        self._spawn(self._stopping(instance, grace_s))

    async def _stopping(self, instance: Instance, grace_s: int) -> None:
        try:
            if self._before_stop is not None:
                with contextlib.suppress(Exception):
                    await self._before_stop(instance)
            await self.launcher.stop(instance, grace_s)
        finally:
            self._forget(instance)
            self.stopped[instance.revision] += 1
            self.log(
                f"revision {instance.revision}: instance {instance.id} stopped "
                f"({len(self.of(instance.revision))} running)"
            )

    def _forget(self, instance: Instance) -> None:
        if instance in self.envs:
            self.envs.remove(instance)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def retire_unused(self, in_use: set[int]) -> None:
        """Revisions with traffic keep min_instances; the others scale to zero when idle."""
        self.in_use = set(in_use)

    def reap(self, now: float | None = None) -> None:
        """One pass of the scaler: idle instances stop, min_instances start."""
        now = time.monotonic() if now is None else now
        for n in sorted({i.revision for i in self.envs} | self.in_use):
            mine = self.of(n)
            keep = self.min_instances if n in self.in_use else 0
            ready = [i for i in mine if i.state == "ready"]
            for instance in ready:
                if len(self.of(n)) <= keep:
                    break
                if instance.in_flight == 0 and now - instance.last_used > self.idle_s:
                    self._stop(instance)
            if n in self.in_use and len(mine) < keep:
                version = self._lookup(n)
                if version is not None:
                    for _ in range(keep - len(mine)):
                        self._launch(version)

    async def reap_forever(self, every_s: float = 1.0) -> None:
        while True:
            self.reap()
            await asyncio.sleep(every_s)

    async def close(self) -> None:
        """Every instance stopped as Cloud Run would (SIGTERM, GRACE_S), in parallel."""
        for instance in list(self.envs):
            if instance.state != "stopping":
                self._stop(instance)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def snapshot(self) -> dict[str, Any]:
        """Per revision: instances by state, requests in flight and waiting, started/stopped."""
        out: dict[str, Any] = {}
        for n in sorted({i.revision for i in self.envs} | set(self.started)):
            mine = [i for i in self.envs if i.revision == n]
            out[str(n)] = {
                "ready": sum(1 for i in mine if i.state == "ready"),
                "starting": sum(1 for i in mine if i.state == "starting"),
                "stopping": sum(1 for i in mine if i.state == "stopping"),
                "in_flight": sum(i.in_flight for i in mine),
                "waiting": self._waiting[n],
                "started": self.started[n],
                "stopped": self.stopped[n],
                "peak": self.peak[n],
                "ready_ms": [round(i.ready_ms) for i in mine if i.ready_ms is not None],
            }
        return out
