"""A release in progress on the local platform: its step and watch window, for the console.

`slipway release` runs in its own process; each time it moves the alias to a canary step it
writes `release.json` in the state directory (replaced atomically), and removes it when the
alias lands on one version (promoted or rolled back). The gateway's console reads it to show
the step and the time left in that step's watch.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from model_store.files import write_json_atomic

FILE = "release.json"


@dataclass(frozen=True)
class Progress:
    alias: str
    version: int  # the alias's primary during the canary
    canary: int  # the version being released
    weight: float  # the canary's share in this step
    step: int  # 1-based, of `steps`
    steps: int
    moved_at: float  # when this step began (epoch seconds)
    wait_s: float  # how long the step is watched

    def left_s(self, now: float) -> float:
        return max(0.0, self.moved_at + self.wait_s - now)


def write(root: Path, progress: Progress | None) -> None:
    """Record the step (None: the release is over: remove the file)."""
    path = root / FILE
    if progress is None:
        path.unlink(missing_ok=True)
        return
    write_json_atomic(path, asdict(progress))


def read(root: Path) -> Progress | None:
    try:
        data = json.loads((root / FILE).read_text())
        return Progress(
            alias=str(data["alias"]),
            version=int(data["version"]),
            canary=int(data["canary"]),
            weight=float(data["weight"]),
            step=int(data["step"]),
            steps=int(data["steps"]),
            moved_at=float(data["moved_at"]),
            wait_s=float(data["wait_s"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def step_of(
    alias: str, version: int, canary: int | None, weight: float, steps: tuple[float, ...],
    wait_s: float,
) -> Progress | None:  # fmt: skip
    """The progress after a move to (version, canary, weight); None when it is no canary."""
    if canary is None:
        return None
    number = next((i for i, s in enumerate(steps, 1) if abs(s - weight) < 1e-9), 0)
    return Progress(alias, version, canary, weight, number, len(steps), time.time(), wait_s)
