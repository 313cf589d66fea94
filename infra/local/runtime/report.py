"""Lambda's REPORT line: what one invocation took, as CloudWatch Logs shows it."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Report:
    """What Lambda's REPORT line says about one invocation."""

    request_id: str
    version: int
    duration_ms: float
    billed_ms: int
    memory_mb: int
    max_memory_mb: int
    init_ms: float | None

    @classmethod
    def of(
        cls,
        request_id: str,
        version: int,
        duration_ms: float,
        *,
        memory_mb: int,
        max_memory_mb: int,
        init_ms: float | None,
    ) -> Report:
        """Billed as Lambda bills: by the millisecond, rounded up, at least one."""
        billed = max(1, math.ceil(duration_ms))
        return cls(request_id, version, duration_ms, billed, memory_mb, max_memory_mb, init_ms)

    def line(self) -> str:
        init = f"\tInit Duration: {self.init_ms:.2f} ms" if self.init_ms is not None else ""
        return (
            f"REPORT RequestId: {self.request_id}\tVersion: {self.version}\t"
            f"Duration: {self.duration_ms:.2f} ms\tBilled Duration: {self.billed_ms} ms\t"
            f"Memory Size: {self.memory_mb} MB\tMax Memory Used: {self.max_memory_mb} MB{init}"
        )
