"""The console's numbers, in process: request buckets, the release's progress, the snapshot."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from infra.loadtest.stats import percentile
from infra.local.console import snapshot
from infra.local.console.metrics import KEEP_S, Recent
from infra.local.state import progress
from infra.local.state.store import Alias, State, Version


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_rates_percentiles_and_errors_per_version_over_whole_seconds() -> None:
    clock = Clock()
    recent = Recent(clock)
    latencies = [float(ms) for ms in range(1, 101)]
    for ms in latencies:  # 100 requests of version 1 in one second
        recent.record("1", 200, ms)
    for status in (200, 429, 502, 503):
        recent.record("2", status, 5.0)
    recent.record("gateway", 413, 1.0)
    now = recent.summary(window_s=60)
    assert all(v["requests"] == 0 for v in now.values())  # the current second is still filling
    assert now["1"]["total"] == 100 and now["1"]["total_ok"] == 100
    clock.t += 1
    one = recent.summary(window_s=60, series_s=5)
    assert list(one) == ["1", "2", "gateway"]
    assert one["1"]["requests"] == 100 and one["1"]["rps"] == 100 / 10  # over the last 10 s
    assert one["1"]["p50_ms"] == percentile(latencies, 50) == 50.0
    assert one["1"]["p99_ms"] == percentile(latencies, 99) == 99.0
    assert one["1"]["series"] == [0, 0, 0, 0, 100]
    two = one["2"]
    assert (two["requests"], two["errors"], two["throttles"], two["total_ok"]) == (4, 2, 1, 1)
    clock.t += 10  # out of the rate's seconds, still in the window
    assert recent.summary()["1"]["rps"] == 0 and recent.summary()["1"]["requests"] == 100
    clock.t += 51  # out of the window, still in the totals
    later = recent.summary(window_s=60)
    assert later["1"]["requests"] == 0 and later["1"]["total"] == 100


def test_buckets_older_than_keep_are_dropped() -> None:
    clock = Clock()
    recent = Recent(clock)
    recent.record("1", 200, 1.0)
    clock.t += KEEP_S + 2
    recent.record("1", 200, 1.0)  # a new second trims
    assert len(recent._buckets["1"]) == 1
    assert recent.totals["1"] == [2, 2]


def test_progress_round_trip_and_removal(tmp_path: Path) -> None:
    step = progress.step_of("live", 1, 2, 0.5, (0.5, 1.0), 30.0)
    assert step is not None and (step.step, step.steps) == (1, 2)
    progress.write(tmp_path, step)
    assert progress.read(tmp_path) == step
    assert step.left_s(step.moved_at + 10) == 20.0 and step.left_s(step.moved_at + 99) == 0.0
    progress.write(tmp_path, None)
    assert progress.read(tmp_path) is None
    assert progress.step_of("live", 2, None, 0.0, (0.5, 1.0), 30.0) is None  # promoted
    (tmp_path / progress.FILE).write_text("{not json")
    assert progress.read(tmp_path) is None


def _version(n: int) -> Version:
    return Version(n, "h.handler", ("/x",), {}, model=f"digits@{n}", model_sha256="ab" * 32)


def test_canary_shows_the_release_step_only_when_it_matches_the_alias(tmp_path: Path) -> None:
    state = State(
        versions={1: _version(1), 2: _version(2)},
        aliases={"live": Alias("live", 1, canary=2, weight=0.5), "dev": Alias("dev", 2)},
    )
    step = progress.Progress("live", 1, 2, 0.5, 1, 2, moved_at=100.0, wait_s=30.0)
    [item] = snapshot.canary(state, step, now=110.0)
    assert item["release"] == {"step": 1, "steps": 2, "wait_s": 30.0, "left_s": 20.0}
    # A canary set by hand (or a stale file for another weight) has no release behind it.
    other = progress.Progress("live", 1, 2, 0.1, 1, 3, moved_at=100.0, wait_s=30.0)
    assert snapshot.canary(state, other, now=110.0)[0]["release"] is None
    assert snapshot.canary(state, None, now=110.0)[0]["release"] is None


@pytest.mark.parametrize(
    ("dead", "init_ms", "busy", "want"),
    [
        (False, None, True, "initialising"),
        (False, 120.0, True, "busy"),
        (False, 120.0, False, "idle"),
        (True, 120.0, True, "stopping"),
    ],
)
def test_environment_states(dead: bool, init_ms: float | None, busy: bool, want: str) -> None:
    env = SimpleNamespace(dead=dead, init_ms=init_ms, busy=busy)
    assert snapshot.environment_state(env) == want  # type: ignore[arg-type]


def test_log_tail_is_bounded_and_clipped(tmp_path: Path) -> None:
    log = tmp_path / "functions.log"
    lines = [f"line {i}" for i in range(100)] + ["x" * 30_000, "last"]
    log.write_text("\n".join(lines) + "\n")
    tail = snapshot.log_tail(log, lines=3)
    assert tail[0] == "line 99" and tail[-1] == "last"
    assert len(tail[1]) < 1000 and "more characters" in tail[1]
    # A file of one long line: only its end is read, and a partial first line is dropped.
    log.write_text("y" * 300_000 + "\nend\n")
    assert snapshot.log_tail(log) == ["end"]
    assert snapshot.log_tail(tmp_path / "missing.log") == []
