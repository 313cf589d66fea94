"""Instances as podman containers of the revision's image, in the image's HTTP mode.

`podman run` stays attached, so the container's stdout and stderr (the function's Cloud
Logging lines) go to the function log as they come, and an instance that exits during its
start is seen at once, with its last lines in the error. Ready means the startup probe the
manifest declares (GET /health on PORT) answered 200, as Cloud Run routes only then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

import aiohttp

from infra.image.podman import Podman, RunSpec
from infra.image.run import spec
from infra.local.cloudrun.instances import Instance, InstanceFailed

STARTUP_TIMEOUT_S = 120.0  # the manifest's startup probe allows 240 s; locally half is plenty
PROBE_EVERY_S = 0.05
LOG_LINE_CHARS = 16 * 1024
SERVICE_HEADER = "K_SERVICE"


def run_spec(
    instance: Instance, *, service: str, cpus: float | None, revision_name: str
) -> RunSpec:
    """The container for one instance: the revision's env and mounts, Cloud Run's K_* set."""
    version = instance.version
    assert version.image is not None
    env = dict(version.env)
    if cpus:
        # One server process per vCPU, as the entrypoint would count them from cgroup v2's
        # cpu.max (this machine may have cgroup v1, where it sees every host CPU).
        env.setdefault("SLIPWAY_HTTP_WORKERS", str(max(1, round(cpus))))
    return spec(
        version.image,
        instance.port,
        memory_mb=version.memory_mb,
        env=env,
        mounts=tuple((path, path) for path in version.code),  # the model store, read-only
        name=instance.name,
        service=service,
        revision=revision_name,
        cpus=cpus,
    )


def revision_name(service: str, number: int) -> str:
    """Cloud Run's revision names: SERVICE-00003 (the tag of its own URL is rev-00003)."""
    return f"{service}-{number:05d}"


def tag(number: int) -> str:
    return f"rev-{number:05d}"


class PodmanLauncher:
    def __init__(
        self,
        engine: Callable[[], Podman],
        *,
        service: str,
        cpus: float | None,
        log: Callable[[str], None],
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self._engine = engine
        self.service = service
        self.cpus = cpus
        self.log = log
        self.startup_timeout_s = startup_timeout_s
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._tails: dict[str, deque[str]] = {}

    async def start(self, instance: Instance) -> None:
        engine = self._engine()
        spec = run_spec(
            instance,
            service=self.service,
            cpus=self.cpus,
            revision_name=revision_name(self.service, instance.revision),
        )
        proc = await asyncio.create_subprocess_exec(
            *engine.run_command(spec),
            env=engine.environ(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._procs[instance.name] = proc
        tail: deque[str] = deque(maxlen=5)
        self._tails[instance.name] = tail
        self._pumps[instance.name] = asyncio.ensure_future(self._pump(proc, tail))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout_s
        timeout = aiohttp.ClientTimeout(total=2.0)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                if proc.returncode is not None:
                    await asyncio.sleep(0.05)  # the last lines reach the pump
                    last = " | ".join(tail) or "no output"
                    raise InstanceFailed(
                        f"the container of revision {instance.revision} exited with "
                        f"{proc.returncode} before its startup probe passed: {last[-600:]}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{instance.url}/health") as r:
                        if r.status == 200:
                            return
                if loop.time() > deadline:
                    raise InstanceFailed(
                        f"the startup probe (GET /health) of revision {instance.revision} did "
                        f"not pass within {self.startup_timeout_s:g} s"
                    )
                await asyncio.sleep(PROBE_EVERY_S)

    async def _pump(self, proc: asyncio.subprocess.Process, tail: deque[str]) -> None:
        assert proc.stdout is not None
        while True:
            try:
                raw = await proc.stdout.readline()
            except ValueError:  # a line past the stream's limit: take what is there
                raw = await proc.stdout.read(LOG_LINE_CHARS)
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\n")[:LOG_LINE_CHARS]
            tail.append(line[:300])
            self.log(line)

    async def stop(self, instance: Instance, grace_s: int) -> None:
        engine = self._engine()
        proc = self._procs.pop(instance.name, None)
        try:
            if grace_s > 0 and proc is not None and proc.returncode is None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(engine.stop, instance.name, grace_s)
        finally:
            # Killing `podman run` would leave the container running: remove it by name.
            await asyncio.to_thread(engine.remove, instance.name)
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
            pump = self._pumps.pop(instance.name, None)
            if pump is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pump, 5)
            self._tails.pop(instance.name, None)
