"""Per-request records to the numbers a load test reports (pure functions).

A record is one request: when it started, how long it took, its HTTP status (0 when no
response came) and the X-Model-Version that answered ("-" when absent). Throttles (429) are
counted apart from errors, as Lambda's throttling is a capacity signal, not a fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from infra.loadtest.exceptions import LocustRunError


@dataclass(frozen=True, slots=True)
class Record:
    started: float  # epoch seconds
    ms: float
    status: int
    version: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Summary:
    requests: int
    ok: int
    errors: int  # neither 2xx nor 429, connection failures included
    throttles: int  # 429
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_line(line: str) -> Record:
    started, ms, status, version, error = line.rstrip("\n").split(",", 4)
    return Record(float(started), float(ms), int(status), version, error)


def read_records(lines: Iterable[str]) -> list[Record]:
    return [parse_line(line) for line in lines if line.strip()]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return float(sorted_values[rank - 1])


def wall_seconds(records: Sequence[Record]) -> float:
    start = min(r.started for r in records)
    end = max(r.started + r.ms / 1000.0 for r in records)
    return max(end - start, 1e-9)


def summarize(records: Sequence[Record], seconds: float | None = None) -> Summary:
    """Latency percentiles over every answered request; throughput over the run's wall time."""
    if not records:
        raise LocustRunError("no request was recorded")
    seconds = seconds if seconds is not None else wall_seconds(records)
    lat = sorted(r.ms for r in records)
    ok = sum(r.ok for r in records)
    throttles = sum(r.status == 429 for r in records)
    return Summary(
        requests=len(records),
        ok=ok,
        errors=len(records) - ok - throttles,
        throttles=throttles,
        seconds=round(seconds, 3),
        rps=round(len(records) / seconds, 2),
        p50_ms=round(percentile(lat, 50), 3),
        p90_ms=round(percentile(lat, 90), 3),
        p99_ms=round(percentile(lat, 99), 3),
        mean_ms=round(sum(lat) / len(lat), 3),
        max_ms=round(lat[-1], 3),
    )


def by_version(records: Sequence[Record]) -> dict[str, Summary]:
    """One summary per X-Model-Version; each side's rate is over the whole run's wall time."""
    if not records:
        return {}
    seconds = wall_seconds(records)
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.version, []).append(r)
    return {v: summarize(rs, seconds) for v, rs in sorted(groups.items())}


def error_kinds(records: Sequence[Record]) -> dict[str, int]:
    """How many requests failed, by status or exception name."""
    out: dict[str, int] = {}
    for r in records:
        if r.ok:
            continue
        key = r.error or f"HTTP {r.status}"
        if r.status:
            key = f"HTTP {r.status}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))
