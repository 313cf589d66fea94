"""The served platform, one per test module that asks for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.local.serving import Served, serve


@pytest.fixture(scope="module")
def served(example_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(example_store, tmp_path_factory.mktemp("platform")) as s:
        yield s
