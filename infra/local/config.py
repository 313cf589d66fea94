"""Settings of the local platform: environment variable names and defaults, in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

STATE_DIR = "SLIPWAY_STATE_DIR"  # where versions, aliases, unpacked code and the TLS cert live
DEFAULT_STATE_DIR = ".slipway"
DEFAULT_PORT = 8443
DEFAULT_CONCURRENCY = 10
DEFAULT_IDLE_S = 300.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_TIMEOUT_S = 30.0
FUNCTION = "predict"
HANDLER = "functions.predict.handler.handler"


def state_dir(explicit: str | None, env: Mapping[str, str] = os.environ) -> Path:
    """--state beats $SLIPWAY_STATE_DIR beats ./.slipway."""
    return Path(explicit or env.get(STATE_DIR) or DEFAULT_STATE_DIR).resolve()
