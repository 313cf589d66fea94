"""Requests the gateway answered, per version and second: the console's rates and latencies.

Fed by a middleware around the gateway's handler (the time from the request's headers to
its response, the status, and `X-Slipway-Function-Version`, the version that ran). Each
version keeps `KEEP_S` seconds of buckets; percentiles are the load tester's nearest-rank
ones (`infra.loadtest.stats.percentile`), so the console and `slipway loadtest` agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.loadtest.stats import percentile

KEEP_S = 300  # seconds of buckets kept per version
WINDOW_S = 60  # the console's summary: the last minute
RATE_S = 10  # requests/s over the last seconds: follows a change of load within seconds
SERIES_S = 120  # the per-second request rate drawn, newest last


@dataclass
class _Bucket:
    requests: int = 0
    ok: int = 0  # 2xx
    errors: int = 0  # 5xx: the gateway's or the function's
    throttles: int = 0  # 429
    latencies_ms: list[float] = field(default_factory=list)


class Recent:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[str, dict[int, _Bucket]] = {}  # version -> second -> bucket
        # version -> [requests, 2xx] since the gateway started
        self.totals: dict[str, list[int]] = {}
        self._last_trim = 0

    def record(self, version: str, status: int, latency_ms: float) -> None:
        now = int(self._clock())
        rows = self._buckets.setdefault(version, {})
        bucket = rows.get(now)
        if bucket is None:
            bucket = rows[now] = _Bucket()
            if now != self._last_trim:
                self._trim(now)
        bucket.requests += 1
        bucket.ok += 200 <= status < 300
        bucket.errors += status >= 500
        bucket.throttles += status == 429
        bucket.latencies_ms.append(latency_ms)
        total = self.totals.setdefault(version, [0, 0])
        total[0] += 1
        total[1] += 200 <= status < 300

    def _trim(self, now: int) -> None:
        self._last_trim = now
        oldest = now - KEEP_S
        for rows in self._buckets.values():
            for t in [t for t in rows if t < oldest]:
                del rows[t]

    def summary(
        self, window_s: int = WINDOW_S, series_s: int = SERIES_S, rate_s: int = RATE_S
    ) -> dict[str, Any]:
        """Per version: the last `window_s` seconds' totals and percentiles, the rate over the
        last `rate_s` seconds, and a per-second series."""
        now = int(self._clock())
        out: dict[str, Any] = {}
        for version, rows in sorted(self._buckets.items(), key=lambda kv: _order(kv[0])):
            # Whole seconds only: the current one is still filling.
            recent = [b for t, b in rows.items() if now - window_s <= t < now]
            lat = sorted(ms for b in recent for ms in b.latencies_ms)
            requests = sum(b.requests for b in recent)
            out[version] = {
                "total": self.totals.get(version, [0, 0])[0],
                "total_ok": self.totals.get(version, [0, 0])[1],
                "requests": requests,
                "rps": round(
                    sum(b.requests for t, b in rows.items() if now - rate_s <= t < now) / rate_s, 2
                ),
                "errors": sum(b.errors for b in recent),
                "throttles": sum(b.throttles for b in recent),
                "p50_ms": round(percentile(lat, 50), 2),
                "p99_ms": round(percentile(lat, 99), 2),
                "series": [
                    rows[t].requests if t in rows else 0 for t in range(now - series_s, now)
                ],
            }
        return out


def _order(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (1 << 30, version)
