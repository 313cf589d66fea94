"""A served platform per module, and where the screenshots go."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

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
