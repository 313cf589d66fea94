"""Progress of long steps, for people and for CI: the one place that decides how it shows.

On a terminal: rich's live bars (time left, bytes or counts). In CI (`CI=true`), when stderr
is not a terminal, with `TERM=dumb` or `SLIPWAY_PROGRESS=plain`: plain lines with a UTC
timestamp, one per real event, which a CI log keeps readable. Everything goes to stderr, so
stdout stays for results (`--json`). rich is imported only for a terminal.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

PLAIN_ENV = "SLIPWAY_PROGRESS"  # `plain` forces the timestamped lines on a terminal too
PLAIN_EVERY_S = 10.0  # in plain mode an update is a line at most this often (and at the end)
UNITS = {"bytes": "bytes", "s": "s", "": ""}


def plain() -> bool:
    """Timestamped lines instead of live bars?"""
    if os.environ.get("CI", "").lower() == "true" or os.environ.get(PLAIN_ENV) == "plain":
        return True
    if os.environ.get("TERM") == "dumb" or not sys.stderr.isatty():
        return True
    # An install without rich (it comes with the dev extra) still works, in plain lines.
    return importlib.util.find_spec("rich") is None


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def line(message: str) -> None:
    """One message: timestamped in plain mode, above any live bar on a terminal."""
    if plain():
        print(f"{stamp()} {message}", file=sys.stderr, flush=True)
    else:
        _console().print(message, highlight=False, markup=False)


def amount(value: float, unit: str) -> str:
    if unit == "bytes":
        for size, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if value >= size:
                return f"{value / size:.1f} {suffix}"
        return f"{value:.0f} B"
    return f"{value:g}{' ' + unit if unit else ''}"


class Task:
    """One long step with a total: update it as work is done; `note` says what is going on."""

    def __init__(self, description: str, total: float | None, unit: str) -> None:
        if unit not in UNITS:
            raise ValueError(f"unit {unit!r}: one of {sorted(UNITS)}")
        self.description = description
        self.total = total
        self.unit = unit
        self.completed = 0.0
        self.started = time.monotonic()
        self._bar: Any = None
        self._id: Any = None
        self._said = float("-inf")
        self._note = ""

    def left(self) -> str:
        """What remains, said plainly: `12 s left` for a time window, else `3 of 5`."""
        if self.total is None:
            return amount(self.completed, self.unit)
        if self.unit == "s":
            return f"{max(0.0, self.total - self.completed):.0f} s left"
        return f"{amount(self.completed, self.unit)} of {amount(self.total, self.unit)}"

    def update(self, completed: float, note: str = "") -> None:
        self.completed = min(completed, self.total) if self.total is not None else completed
        if self._bar is not None:
            self._bar.update(self._id, completed=self.completed, note=note, left=self.left())
            return
        done = self.total is not None and self.completed >= self.total
        if done or note != self._note or time.monotonic() - self._said >= PLAIN_EVERY_S:
            self._said, self._note = time.monotonic(), note
            line(f"{self.description}: {self.left()}{f' ({note})' if note else ''}")

    def advance(self, by: float = 1, note: str = "") -> None:
        self.update(self.completed + by, note)


@contextmanager
def task(description: str, total: float | None = None, unit: str = "") -> Iterator[Task]:
    """A live bar on a terminal; in plain mode a start line, a line per update, an end line."""
    t = Task(description, total, unit)
    if plain():
        what = f" ({amount(total, unit)})" if total is not None else ""
        line(f"{description}: started{what}")
        try:
            yield t
        finally:
            line(f"{description}: finished in {time.monotonic() - t.started:.1f} s")
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # A watch window's end is known (its length): say the seconds left, not an estimate.
    size = (
        TextColumn("{task.fields[left]}")
        if unit == "s"
        else DownloadColumn()
        if unit == "bytes"
        else MofNCompleteColumn()
    )
    columns = [TextColumn("{task.description}"), BarColumn(), size, TimeElapsedColumn()]
    if unit != "s":
        columns.append(TimeRemainingColumn())
    columns.append(TextColumn("{task.fields[note]}"))
    with Progress(*columns, console=_console(), transient=False) as bar:
        t._bar, t._id = bar, bar.add_task(description, total=total, note="", left=t.left())
        yield t


_CONSOLE: Any = None


def _console() -> Any:
    global _CONSOLE
    if _CONSOLE is None:
        from rich.console import Console

        _CONSOLE = Console(stderr=True)
    return _CONSOLE
