"""An execution environment as a container of the version's image (`slipway serve --image`).

With Lambda's limits for an image: read-only root, /tmp only, the version's memory, a
non-root user, Lambda's variables for images. Killing `podman run` would leave the container
running, so it is removed by name; its memory is its cgroup's peak, as Lambda counts it.
"""

from __future__ import annotations

import asyncio

from infra.image.podman import Podman, RunSpec, cgroup_peak_mb
from infra.local.runtime.variables import image_environment
from infra.local.state.store import Version


class Container:
    def __init__(self, engine: Podman, function: str, version: Version, env_id: str) -> None:
        assert version.image is not None
        self.engine = engine
        self.function = function
        self.version = version
        self.image = version.image
        self.name = f"slipway-{function}-{version.number}-{env_id}"  # podman rm -f needs it
        self._pid: int | None = None

    def command(self, runtime_api: str) -> tuple[list[str], dict[str, str]]:
        """`podman run` of the image, attached, and the environment podman needs."""
        spec = RunSpec(
            image=self.image,
            name=self.name,
            args=(self.version.handler,),  # the image's CMD, as ImageConfig.Command overrides it
            env=image_environment(self.function, self.version, runtime_api),
            memory_mb=self.version.memory_mb,
            mounts=tuple((path, path) for path in self.version.code),  # e.g. the model store
        )
        return self.engine.run_command(spec), self.engine.environ()

    async def find_pid(self) -> None:
        """The container's pid, for its cgroup (podman inspect: off the request's path)."""
        self._pid = await asyncio.to_thread(self.engine.pid, self.name)

    def peak_memory_mb(self) -> int:
        """The cgroup's peak: everything in the container, as Lambda counts an image's memory."""
        return cgroup_peak_mb(self._pid) if self._pid else 0

    async def remove(self) -> None:
        await asyncio.to_thread(self.engine.remove, self.name)
