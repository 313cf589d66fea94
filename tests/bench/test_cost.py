from __future__ import annotations

import math

import pytest

from bench import cost


def test_lambda_cost_is_gb_seconds_plus_requests() -> None:
    # 1M invokes x 1 ms x 1 GB x price + $0.20 for the requests.
    x86 = cost.lambda_per_million(1.0, 1024, 1, cost.X86_GB_SECOND, 0.20)
    assert x86 == pytest.approx(1_000_000 * 0.001 * cost.X86_GB_SECOND + 0.20)


def test_duration_is_billed_rounded_up_to_the_millisecond() -> None:
    a = cost.lambda_per_million(0.2, 512, 1, cost.ARM_GB_SECOND, 0.0)
    b = cost.lambda_per_million(1.0, 512, 1, cost.ARM_GB_SECOND, 0.0)
    assert a == b


def test_batching_divides_the_invokes() -> None:
    one = cost.lambda_per_million(3.0, 512, 1, cost.ARM_GB_SECOND, 0.20)
    sixty_four = cost.lambda_per_million(3.0, 512, 64, cost.ARM_GB_SECOND, 0.20)
    assert sixty_four == pytest.approx(one / 64)


def test_memory_setting_from_rss() -> None:
    assert cost.lambda_memory_mb(50) == 128
    assert cost.lambda_memory_mb(300) == 384  # 375 rounded up to 64


def test_instance_cost_and_break_even() -> None:
    assert cost.instance_per_million(3.6, 1000) == pytest.approx(1.0)
    assert math.isinf(cost.instance_per_million(1.0, 0))
    assert cost.break_even_per_month(10.0, 0.5) == pytest.approx(20_000_000)


def test_estimate_uses_the_given_prices() -> None:
    prices = cost.Prices(x86_gb_second=1e-5, arm_gb_second=5e-6, per_million_requests=0.0)
    row = cost.estimate(1, 1.0, 1024, prices, instance_predictions_per_second=None)
    assert row.x86_per_million == pytest.approx(0.01)  # 1e6 x 1 ms x 1 GB x 1e-5
    assert row.arm_per_million == pytest.approx(0.005)
    assert row.instance_per_million is None
