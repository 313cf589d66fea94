"""What Linux says about a runtime's process (/proc): its peak memory, its wait for a CPU."""

from __future__ import annotations

import math


def peak_memory_mb(pid: int) -> int:
    """Peak resident memory (VmHWM), as Lambda's Max Memory Used; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            status = fh.read()
    except OSError:
        return 0
    start = status.find(b"VmHWM:")
    if start < 0:
        return 0
    kib = int(status[start + 6 : status.index(b"kB", start)])
    return math.ceil(kib / 1024)


def runqueue_wait_s(pid: int) -> float:
    """Seconds the process's main thread waited for a CPU (/proc/PID/schedstat)."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0  # no schedstat: plain elapsed time, as on Lambda
