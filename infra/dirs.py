"""Where Slipway keeps its files on this machine: the local state directory and model store.

Below the local platform (`slipway serve`, `--target local`) and the image tooling
(`slipway run-image`), which resolve both the same way: an explicit flag beats the
environment variable beats the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from model_store.backends import STORE_ENV
from model_store.backends.local import LocalStore

STATE_DIR = "SLIPWAY_STATE_DIR"  # where versions, aliases, unpacked code and the TLS cert live
DEFAULT_STATE_DIR = ".slipway"


def state_dir(explicit: str | None, env: Mapping[str, str] = os.environ) -> Path:
    """--state beats $SLIPWAY_STATE_DIR beats ./.slipway."""
    return Path(explicit or env.get(STATE_DIR) or DEFAULT_STATE_DIR).resolve()


def store_dir(explicit: str | None, env: Mapping[str, str] = os.environ) -> str:
    """The local model store: --source-store beats $SLIPWAY_STORE beats the default."""
    return str(LocalStore(explicit or env.get(STORE_ENV) or None).root.resolve())
