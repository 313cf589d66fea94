"""Podman, as the local platform and `slipway run-image` use it: one typed wrapper.

Its own storage (`overlay` under a root of ours: a container starts in 0.1-0.35 s; `vfs` copies
the image per container and takes seconds), the cgroupfs manager and the runc runtime (no
systemd here), and a containers.conf whose only setting is `default_ulimits = []` (as root in
a sandbox podman's default ulimits cannot be raised). Containers are always removed by name
with `podman rm -f`: a SIGKILL to `podman run` leaves its container running.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.image.exceptions import ImageError

CONTAINERS_CONF = "[containers]\ndefault_ulimits = []\n"
TIMEOUT_S = 300


class EngineError(ImageError):
    """Raise when podman is missing or one of its commands fails; names the command."""


@dataclass(frozen=True)
class RunSpec:
    """How one container runs: Lambda's limits by default (read-only root, /tmp only)."""

    image: str
    name: str
    args: Sequence[str] = ()
    env: Mapping[str, str] | None = None
    memory_mb: int | None = None
    cpus: float | None = None  # a CPU quota (Cloud Run's vCPUs); None: the machine's
    read_only: bool = True
    tmp_mb: int = 512  # Lambda's default ephemeral storage
    user: str | None = "65534:65534"
    mounts: Sequence[tuple[str, str]] = ()  # (host path, container path), read-only
    network_host: bool = True  # the Runtime API and the ports are on this machine's loopback
    publish: Sequence[str] = ()


class Podman:
    def __init__(self, root: Path, binary: str | None = None) -> None:
        self.root = root = root.resolve()  # podman's database records the path as given
        self.binary = binary or shutil.which("podman") or ""
        if not self.binary:
            raise EngineError(
                "podman is not installed: run `make image-tools` "
                "(apt-get install podman runc) to run the image on this machine"
            )
        root.mkdir(parents=True, exist_ok=True)
        # podman refuses a runroot over 50 characters: a short one per storage root.
        key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
        self.runroot = Path(tempfile.gettempdir()) / f"slipway-podman-{key}"
        self.conf = root / "containers.conf"
        if not self.conf.is_file() or self.conf.read_text() != CONTAINERS_CONF:
            self.conf.write_text(CONTAINERS_CONF)

    def base(self) -> list[str]:
        return [
            self.binary,
            "--root", str(self.root / "storage"),
            "--runroot", str(self.runroot),
            "--storage-driver", "overlay",
            "--cgroup-manager", "cgroupfs",
            "--runtime", shutil.which("runc") or "runc",
            "--events-backend", "none",
        ]  # fmt: skip

    def environ(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def _run(self, args: Sequence[str], timeout: float = TIMEOUT_S) -> str:
        cmd = [*self.base(), *args]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=self.environ(), timeout=timeout, check=False
        )
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            raise EngineError(f"podman {' '.join(args[:2])} failed ({proc.returncode}): {tail}")
        return proc.stdout

    def load(self, archive: Path) -> str:
        """Load an OCI archive; return the image's id (sha256:…)."""
        if not archive.is_file():
            raise EngineError(f"{archive} does not exist: build it with `slipway build --image`")
        out = self._run(["load", "--quiet", "--input", str(archive)])
        loaded = [line.split(":", 1)[1].strip() for line in out.splitlines() if ":" in line]
        if not loaded:
            raise EngineError(f"podman load {archive} named no image: {out.strip()[:300]}")
        return self.image_id(loaded[-1])

    def image_id(self, ref: str) -> str:
        return "sha256:" + self._run(["image", "inspect", "--format", "{{.Id}}", ref]).strip()

    def run_command(self, spec: RunSpec, *, detach: bool = False) -> list[str]:
        """`podman run` for spec, attached (the caller reads its output) unless detach."""
        cmd = [*self.base(), "run", "--rm", "--name", spec.name, "--pull", "never"]
        cmd += ["--detach"] if detach else ["--attach", "stdout", "--attach", "stderr"]
        if spec.network_host:
            cmd += ["--network", "host"]
        for port in spec.publish:
            cmd += ["--publish", port]
        if spec.read_only:
            cmd += ["--read-only", "--read-only-tmpfs=false"]
        cmd += ["--tmpfs", f"/tmp:rw,size={spec.tmp_mb}m,mode=1777"]
        if spec.memory_mb:
            cmd += ["--memory", f"{spec.memory_mb}m", "--memory-swap", f"{spec.memory_mb}m"]
        if spec.cpus:
            cmd += ["--cpus", f"{spec.cpus:g}"]
        if spec.user:
            cmd += ["--user", spec.user]
        for host, inside in spec.mounts:
            cmd += ["--volume", f"{host}:{inside}:ro"]
        for key, value in (spec.env or {}).items():
            cmd += ["--env", f"{key}={value}"]
        return [*cmd, spec.image, *spec.args]

    def remove(self, name: str) -> None:
        """Stop and remove a container at once (a missing one is fine)."""
        subprocess.run(
            [*self.base(), "rm", "--force", "--ignore", "--time", "0", name],
            capture_output=True,
            env=self.environ(),
            timeout=60,
            check=False,
        )

    def containers(self, prefix: str) -> list[str]:
        """Names of this storage's containers starting with `prefix`, running or not."""
        out = self._run(["ps", "--all", "--format", "{{.Names}}"], timeout=60)
        return [n for n in out.split() if n.startswith(prefix)]

    def release_storage(self) -> None:
        """Unmount what containers/storage leaves mounted under the root (its overlay
        directory, bind-mounted on itself), so the root can be deleted."""
        overlay = self.root / "storage" / "overlay"
        if overlay.is_mount():
            subprocess.run(["umount", "--lazy", str(overlay)], capture_output=True, check=False)

    def pid(self, name: str) -> int | None:
        try:
            out = self._run(["inspect", "--format", "{{.State.Pid}}", name], timeout=30)
        except EngineError:
            return None
        return int(out.strip()) if out.strip().isdigit() and int(out) > 0 else None

    def stop(self, name: str, grace_s: int) -> None:
        """SIGTERM, then SIGKILL after grace_s, as Cloud Run stops an instance."""
        self._run(["stop", "--time", str(grace_s), name], timeout=grace_s + 30)


def cgroup_peak_mb(pid: int) -> int:
    """Peak memory of the cgroup that pid is in (v2 memory.peak, v1 max_usage_in_bytes)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "memory":  # cgroup v1
            candidates = [
                Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.max_usage_in_bytes"
            ]
        elif controllers == "":  # cgroup v2, mounted alone or beside v1 (hybrid)
            rel = path.lstrip("/")
            candidates = [Path("/sys/fs/cgroup") / rel / "memory.peak"]
            candidates.append(Path("/sys/fs/cgroup/unified") / rel / "memory.peak")
        else:
            continue
        for candidate in candidates:
            try:
                return math.ceil(int(candidate.read_text()) / (1024 * 1024))
            except (OSError, ValueError):
                continue
    return 0


def local_engine(state_dir: Path) -> Podman:
    """The local platform's podman: storage under its state directory."""
    return Podman(state_dir / "podman")
