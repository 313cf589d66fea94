"""Settings of a load test, and the environment variables that carry them to the Locust process.

The Locust run happens in a child process (see runner.py); these names are the only channel
between the two, so they are kept here, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

BODY_FILE = "SLIPWAY_LOADTEST_BODY_FILE"  # the request body, written by the parent
RECORDS_FILE = "SLIPWAY_LOADTEST_RECORDS"  # one line per request, written by the child
MAX_REQUESTS = "SLIPWAY_LOADTEST_MAX_REQUESTS"  # 0: bounded by duration only
CACERT = "SLIPWAY_LOADTEST_CACERT"  # CA bundle for a self-signed certificate
INSECURE = "SLIPWAY_LOADTEST_INSECURE"  # "1": do not verify TLS
PATH = "SLIPWAY_LOADTEST_PATH"  # request path under the host, e.g. /predict

DEFAULT_USERS = 8
DEFAULT_DURATION_S = 10.0
DEFAULT_REQUESTS = 0
DEFAULT_BATCH = 1


@dataclass(frozen=True)
class LoadTestConfig:
    """One load test: where, how hard, for how long, with what body."""

    host: str  # scheme://host[:port][/stage]
    path: str = "/predict"
    users: int = DEFAULT_USERS
    spawn_rate: float = 0.0  # 0: all users at once
    duration_s: float = DEFAULT_DURATION_S
    max_requests: int = DEFAULT_REQUESTS
    batch: int = DEFAULT_BATCH
    cacert: str | None = None
    insecure: bool = False

    def child_env(self, body_file: str, records_file: str) -> dict[str, str]:
        """The variables the Locust process reads (added to a copy of the parent's env)."""
        env = {
            BODY_FILE: body_file,
            RECORDS_FILE: records_file,
            MAX_REQUESTS: str(self.max_requests),
            PATH: self.path,
            INSECURE: "1" if self.insecure else "0",
        }
        if self.cacert:
            env[CACERT] = self.cacert
        return env


def read_child_env(env: Mapping[str, str]) -> tuple[str, str, int, str, str | None, bool]:
    """(body file, records file, max requests, path, cacert, insecure) from the child's env."""
    return (
        env[BODY_FILE],
        env[RECORDS_FILE],
        int(env.get(MAX_REQUESTS, "0") or 0),
        env.get(PATH, "/predict"),
        env.get(CACERT) or None,
        env.get(INSECURE) == "1",
    )
