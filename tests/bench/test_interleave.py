"""bench.inprocess.interleave on a fake clock: contenders compared under one machine state."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bench import hotpath, inprocess


class Machine:
    """A fake perf_counter_ns whose speed drifts: a call costs `ns` x the current slowdown,
    and the slowdown follows `drift(calls so far)`."""

    def __init__(self, drift: Callable[[int], float]) -> None:
        self.now, self.calls, self.drift = 0, 0, drift
        self.log: list[str] = []

    def clock(self) -> int:
        return self.now

    def contender(self, name: str, ns: int) -> inprocess.Call:
        def call() -> None:
            self.log.append(name)
            self.now += round(ns * self.drift(self.calls))
            self.calls += 1

        return call


def test_ratios_per_cycle_hold_while_the_machine_slows_threefold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Three times slower from call 2000 on: a block-by-block timing would see it as a contender.
    m = Machine(lambda calls: 1.0 if calls < 2000 else 3.0)
    monkeypatch.setattr(time, "perf_counter_ns", m.clock)
    calls = {"slow": m.contender("slow", 2000), "fast": m.contender("fast", 1000)}
    s = inprocess.interleave(calls, cycles=100, chunk=20, warmup=5)
    r = s.ratio("slow", "fast", limit=2.0)
    assert r["cycle_p25"] == r["cycle_median"] == r["cycle_p75"] == 2.0
    assert r["cycles_within"] == 1.0
    assert r["ratio"] == pytest.approx(2.0, rel=0.05)
    assert s.ratio("fast", "slow", limit=0.4)["cycles_within"] == 0.0
    # The quietest chunk is from before the slowdown; the quartiles straddle it.
    summary = s.summary("slow")
    assert summary["min_chunk_us"] == 2.0 and summary["p25_us"] == 2.0 and summary["p75_us"] == 6.0
    assert summary["n"] == 2000 and summary["cycles"] == 100
    d = s.difference("slow", "fast")
    assert d["cycle_p25_us"] == 1.0 and d["cycle_median_us"] == d["cycle_p75_us"] == 3.0


def test_each_contender_runs_in_chunks_in_every_position(monkeypatch: pytest.MonkeyPatch) -> None:
    m = Machine(lambda calls: 1.0)
    monkeypatch.setattr(time, "perf_counter_ns", m.clock)
    names = ("a", "b", "c")
    calls = {n: m.contender(n, 1000 * (i + 1)) for i, n in enumerate(names)}
    s = inprocess.interleave(calls, cycles=6, chunk=4, warmup=2, settle=1)
    assert m.log[:6] == ["a", "a", "b", "b", "c", "c"]  # the warm-up, untimed
    turns = m.log[6:]
    assert len(turns) == 6 * 3 * (4 + 1)  # each chunk: one settling call, then four timed
    runs = [turns[i] for i in range(0, len(turns), 5)]
    assert all(turns[i : i + 5] == [turns[i]] * 5 for i in range(0, len(turns), 5))
    cycles = [runs[i : i + 3] for i in range(0, len(runs), 3)]
    assert cycles[:3] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert cycles[3:] == [["c", "b", "a"], ["b", "a", "c"], ["a", "c", "b"]]  # then reversed
    assert {n: len(v) for n, v in s.samples.items()} == {"a": 24, "b": 24, "c": 24}
    assert s.summary("c")["median_us"] == 3.0 and s.cycles == 6


def test_nothing_to_time_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        inprocess.interleave({"a": lambda: None}, cycles=0)


def test_the_budget_keeps_rounds_times_iterations_calls() -> None:
    assert hotpath.Budget.of(7, 300, 20) == hotpath.Budget(105, 20)
    assert hotpath.Budget.of(3, 100, 20) == hotpath.Budget(15, 20)
    assert hotpath.Budget.of(1, 1, 20) == hotpath.Budget(1, 20)
