"""`slipway run-image`: the image in its HTTP mode, started as Cloud Run starts an instance.

PORT and Cloud Run's K_SERVICE/K_REVISION/K_CONFIGURATION are set, the container gets its
memory limit, and stopping (Ctrl-C, SIGTERM) sends the container SIGTERM and gives it
GRACE_S to finish the requests in flight before SIGKILL, as Cloud Run does.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.predict.config import MODEL, STORE
from infra.build import host_target
from infra.dirs import state_dir, store_dir
from infra.image.podman import Podman, RunSpec, local_engine

GRACE_S = 10  # Cloud Run's: SIGTERM, then SIGKILL 10 s later
DEFAULT_MEMORY_MB = 512  # Cloud Run's default memory limit
SERVICE = "slipway-predict"


@dataclass(frozen=True)
class Instance:
    """One container of the image in HTTP mode."""

    engine: Podman
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, grace_s: int = GRACE_S) -> None:
        try:
            self.engine.stop(self.name, grace_s)
        finally:
            self.engine.remove(self.name)


@contextmanager
def started(engine: Podman, run: RunSpec, port: int, timeout: float = 60.0) -> Iterator[Instance]:
    """A detached container of `run` answering GET /health on `port`; always removed after."""
    # Here, not at the top: `slipway` imports this module to build its parser for every
    # command, and infra.servers brings urllib and ssl (+7 ms, -X importtime).
    from infra import servers

    subprocess.run(
        engine.run_command(run, detach=True), env=engine.environ(), check=True, capture_output=True
    )
    instance = Instance(engine, run.name, port)
    try:
        servers.wait_for_url(f"{instance.url}/health", timeout=timeout)
        yield instance
    finally:
        engine.remove(run.name)


def cloud_run_env(
    port: int, revision: str, extra: Mapping[str, str] | None = None, *, service: str = SERVICE
) -> dict[str, str]:
    return {
        "PORT": str(port),
        "K_SERVICE": service,
        "K_REVISION": revision,
        "K_CONFIGURATION": service,
        **(extra or {}),
    }


def spec(
    image: str,
    port: int,
    *,
    memory_mb: int = DEFAULT_MEMORY_MB,
    env: Mapping[str, str] | None = None,
    mounts: tuple[tuple[str, str], ...] = (),
    name: str | None = None,
    service: str = SERVICE,
    revision: str | None = None,
    cpus: float | None = None,
) -> RunSpec:
    name = name or f"slipway-run-{uuid.uuid4().hex[:8]}"
    return RunSpec(
        image=image,
        name=name,
        env=cloud_run_env(port, revision or f"{service}-local", env, service=service),
        memory_mb=memory_mb,
        cpus=cpus,
        # Cloud Run's root filesystem is writable (in memory); the image never needs it to be.
        read_only=False,
        mounts=mounts,
    )


def register(sub: Any) -> None:
    p = sub.add_parser(
        "run-image",
        help="run the container image in its HTTP mode, as Cloud Run would start it",
    )
    p.add_argument(
        "archive",
        nargs="?",
        type=Path,
        metavar="ARCHIVE",
        help="an OCI archive (default: build/3.13-<this machine's arch>/image.oci.tar)",
    )
    p.add_argument("--port", type=int, default=8080, help="PORT for the container (default 8080)")
    p.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MB, help="MB (default 512)")
    p.add_argument(
        "--model",
        metavar="NAME@VERSION",
        help="serve this model from the local store (mounted read-only) instead of the baked one",
    )
    p.add_argument("--state", help="state directory (default: $SLIPWAY_STATE_DIR or ./.slipway)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    archive = args.archive or Path("build") / f"3.13-{host_target().arch}" / "image.oci.tar"
    engine = local_engine(state_dir(args.state))
    print(f"loading {archive}", file=sys.stderr)
    image = engine.load(archive)
    env: dict[str, str] = {}
    mounts: tuple[tuple[str, str], ...] = ()
    if args.model:
        store = store_dir(None)
        env, mounts = {MODEL: args.model, STORE: store}, ((store, store),)
    run = spec(image, args.port, memory_mb=args.memory, env=env, mounts=mounts)
    instance = Instance(engine, run.name, args.port)
    proc = subprocess.Popen(engine.run_command(run), env=engine.environ())
    print(f"HTTP mode on {instance.url} (container {run.name}); Ctrl-C stops", file=sys.stderr)

    def stop(signum: int, _frame: Any) -> None:
        print(f"stopping: SIGTERM, {GRACE_S} s to finish requests in flight", file=sys.stderr)
        instance.stop()

    signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        stop(signal.SIGINT, None)
        return proc.wait()
    finally:
        engine.remove(run.name)
