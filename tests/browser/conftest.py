"""A served platform per module, the image in HTTP mode, and where the screenshots go."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra.local.serving import REPO, Served, serve

# The README shows these; SLIPWAY_SCREENSHOTS sends them elsewhere.
SCREENSHOTS = Path(os.environ.get("SLIPWAY_SCREENSHOTS", REPO / "docs"))


@pytest.fixture(scope="module")
def served(example_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Room for both versions of a canary under four clients: no environment of one version
    # has to go (a cold start) for the other's.
    with serve(example_store, tmp_path_factory.mktemp("platform"), "--concurrency", "8") as s:
        yield s


@pytest.fixture(scope="module")
def image_url(image_engine: tuple[Any, str], readable_store: Path) -> Iterator[str]:
    """The built container image in its HTTP mode (podman, as Cloud Run starts it)."""
    from infra import servers
    from infra.image.run import spec

    engine, image = image_engine
    port = servers.free_port()
    store = str(readable_store)
    env = {"SLIPWAY_STORE": store, "SLIPWAY_METRICS": "off", "SLIPWAY_HTTP_WORKERS": "1"}
    run = spec(image, port, env=env, mounts=((store, store),))
    subprocess.run(engine.run_command(run, detach=True), env=engine.environ(), check=True)
    url = f"http://127.0.0.1:{port}"
    try:
        servers.wait_for_url(f"{url}/health", timeout=60)
        yield url
    finally:
        engine.remove(run.name)
