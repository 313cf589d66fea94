"""Defaults of the local platform, in one place (where its files live: `infra.dirs`)."""

from __future__ import annotations

DEFAULT_PORT = 8443
DEFAULT_CONCURRENCY = 10
DEFAULT_IDLE_S = 300.0
DEFAULT_MEMORY_MB = 1024
DEFAULT_TIMEOUT_S = 30.0
FUNCTION = "predict"
HANDLER = "functions.predict.handler.handler"
