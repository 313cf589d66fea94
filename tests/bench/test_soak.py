"""The soak scenario, 60 seconds of it: HTTPS load through release cycles, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import soak

pytestmark = pytest.mark.integration


def test_a_minute_of_load_through_release_cycles_loses_nothing(
    example_store: Path, tmp_path: Path
) -> None:
    result = soak.run(example_store, duration_s=60, cycles=3, concurrency=8, work=tmp_path)
    print(result)
    assert result.cycles_done == 3
    assert result.lost == 0, result.lost_examples
    assert result.bad == 0, result.statuses
    assert result.requests > 100 and result.statuses.get("200", 0) > 100
    # Every cycle's new version served part of the traffic beside version 1.
    assert len(result.versions) >= 2, result.versions
    assert result.rss_mb["end_gateway"] > 0 and result.rss_mb["start_environments"] > 0
