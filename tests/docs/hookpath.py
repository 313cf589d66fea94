"""Import the docs build's generators (docs/hooks/slipway_docs) in tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOOKS = Path(__file__).resolve().parents[2] / "docs" / "hooks"


@contextmanager
def hooks_on_path() -> Iterator[None]:
    sys.path.insert(0, str(HOOKS))
    try:
        yield
    finally:
        sys.path.remove(str(HOOKS))
