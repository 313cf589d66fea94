"""Invocations and errors per version and second: the local platform's `Errors` metric.

The gateway (`slipway serve`) counts every invocation's outcome by the version that ran, and
writes the counts to `invocations.json` in the state directory about once a second (replaced
atomically), so a `slipway release` in another process can watch the new version's own
errors, as CloudWatch's Errors by ExecutedVersion does on AWS. An error is what makes the
gateway answer 5xx for the version: a function error, crash, init failure or timeout, or a
5xx result from the function itself. Throttles (429) are not the version's errors.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_store.files import write_json_atomic

FILE = "invocations.json"
KEEP_S = 3600  # seconds of counts kept: longer than any watch window
FRESH_S = 5.0  # a file older than this has no running gateway behind it
MAX_ERROR_CHARS = 300  # the last error's text kept per version


class Counts:
    """The gateway's side: count in memory, flush to the file."""

    def __init__(self, root: Path) -> None:
        self.path = root / FILE
        # version -> second -> [invocations, errors]
        self._buckets: dict[str, dict[int, list[int]]] = {}
        self._last_error: dict[str, str] = {}
        try:  # a restarted gateway keeps the counts it wrote before
            data = json.loads(self.path.read_text())
            for version, rows in data.get("versions", {}).items():
                self._buckets[version] = {int(t): [int(n), int(e)] for t, n, e in rows}
            self._last_error = dict(data.get("last_error", {}))
        except (OSError, ValueError, TypeError, AttributeError):
            pass

    def record(self, version: int, error: str | None) -> None:
        bucket = self._buckets.setdefault(str(version), {}).setdefault(int(time.time()), [0, 0])
        bucket[0] += 1
        if error is not None:
            bucket[1] += 1
            self._last_error[str(version)] = error[:MAX_ERROR_CHARS]

    def flush(self) -> None:
        now = time.time()
        oldest = int(now) - KEEP_S
        for rows in self._buckets.values():
            for t in [t for t in rows if t < oldest]:
                del rows[t]
        data = {
            "pid": os.getpid(),
            "updated": now,
            "versions": {
                v: [[t, n, e] for t, (n, e) in sorted(rows.items())]
                for v, rows in self._buckets.items()
            },
            "last_error": self._last_error,
        }
        write_json_atomic(self.path, data)


@dataclass(frozen=True)
class Window:
    """What the file says about one version since a moment."""

    invocations: int
    errors: int
    last_error: str | None
    live: bool  # a gateway wrote the file in the last FRESH_S seconds


def read(root: Path, version: str, since: float, now: float | None = None) -> Window:
    """Invocations and errors of `version` in the seconds from `since` on (the CLI's side)."""
    try:
        data: Mapping[str, Any] = json.loads((root / FILE).read_text())
    except (OSError, ValueError):
        return Window(0, 0, None, False)
    start = int(since)
    rows = [r for r in data.get("versions", {}).get(version, []) if r[0] >= start]
    live = (now if now is not None else time.time()) - float(data.get("updated", 0)) < FRESH_S
    return Window(
        sum(int(r[1]) for r in rows),
        sum(int(r[2]) for r in rows),
        data.get("last_error", {}).get(version),
        live,
    )
