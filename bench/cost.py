"""Cost per million predictions on Lambda, from measured duration and memory, next to an
always-on instance. Pure arithmetic; every price is a parameter with its source and date.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# AWS Lambda pricing, us-east-1, as documented at https://aws.amazon.com/lambda/pricing/
# (these rates date from the arm64 launch, 2021-09-29; used here on PRICE_DATE).
PRICE_DATE = "2026-11-24"
X86_GB_SECOND = 0.0000166667
ARM_GB_SECOND = 0.0000133334
PER_MILLION_REQUESTS = 0.20
# Always-on comparison: an on-demand t4g.medium (2 vCPU, 4 GiB), us-east-1, Linux.
INSTANCE_NAME = "t4g.medium"
INSTANCE_HOURLY = 0.0336
HOURS_PER_MONTH = 730


@dataclass(frozen=True)
class Prices:
    x86_gb_second: float = X86_GB_SECOND
    arm_gb_second: float = ARM_GB_SECOND
    per_million_requests: float = PER_MILLION_REQUESTS
    instance_name: str = INSTANCE_NAME
    instance_hourly: float = INSTANCE_HOURLY
    date: str = PRICE_DATE


def lambda_memory_mb(max_rss_mb: float, headroom: float = 1.25) -> int:
    """A memory setting for a measured peak RSS: 25% headroom, rounded up to 64 MB, >= 128."""
    return max(128, math.ceil(max_rss_mb * headroom / 64) * 64)


def lambda_per_million(
    duration_ms: float, memory_mb: int, batch: int, gb_second: float, per_million_requests: float
) -> float:
    """Dollars per million predictions when each invoke answers `batch` of them.

    Lambda bills each invoke's duration rounded up to 1 ms, times the configured memory.
    """
    invokes = 1_000_000 / batch
    billed_s = math.ceil(duration_ms) / 1000.0
    compute = invokes * billed_s * (memory_mb / 1024.0) * gb_second
    return compute + invokes * per_million_requests / 1_000_000


def instance_per_million(hourly: float, predictions_per_second: float) -> float:
    """Dollars per million predictions for an instance kept fully busy (its best case)."""
    if predictions_per_second <= 0:
        return math.inf
    return hourly / (predictions_per_second * 3600) * 1_000_000


def break_even_per_month(monthly_instance: float, lambda_per_million_cost: float) -> float:
    """Predictions a month below which Lambda costs less than the always-on instance."""
    if lambda_per_million_cost <= 0:
        return math.inf
    return monthly_instance / lambda_per_million_cost * 1_000_000


@dataclass(frozen=True)
class CostRow:
    batch: int
    duration_ms: float
    memory_mb: int
    x86_per_million: float
    arm_per_million: float
    instance_per_million: float | None  # None: no throughput measured for this batch
    break_even_per_month: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(
    batch: int,
    duration_ms: float,
    memory_mb: int,
    prices: Prices,
    instance_predictions_per_second: float | None,
) -> CostRow:
    arm = lambda_per_million(
        duration_ms, memory_mb, batch, prices.arm_gb_second, prices.per_million_requests
    )
    x86 = lambda_per_million(
        duration_ms, memory_mb, batch, prices.x86_gb_second, prices.per_million_requests
    )
    inst = (
        instance_per_million(prices.instance_hourly, instance_predictions_per_second)
        if instance_predictions_per_second
        else None
    )
    monthly = prices.instance_hourly * HOURS_PER_MONTH
    return CostRow(
        batch,
        round(duration_ms, 3),
        memory_mb,
        round(x86, 4),
        round(arm, 4),
        round(inst, 4) if inst is not None else None,
        round(break_even_per_month(monthly, arm)),
    )
