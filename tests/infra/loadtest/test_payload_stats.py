from __future__ import annotations

import orjson
import pytest

from infra.loadtest import payload, stats
from infra.loadtest.exceptions import LocustRunError, PayloadError


def test_example_rows_are_repeated_to_the_batch() -> None:
    manifest = {"example": {"inputs": [[1.0, 2.0], [3.0, 4.0]]}, "inputs": []}
    body = orjson.loads(payload.body_for(manifest, 5))
    assert body == {"inputs": [[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [3.0, 4.0], [1.0, 2.0]]}


def test_rows_are_generated_from_the_input_spec_when_there_is_no_example() -> None:
    manifest = {"inputs": [{"name": "x", "shape": [None, 3], "dtype": "float32"}]}
    rows = orjson.loads(payload.body_for(manifest, 4))["inputs"]
    assert len(rows) == 4 and all(len(r) == 3 for r in rows)
    assert all(isinstance(v, float) for r in rows for v in r)


def test_multi_input_models_get_inputs_by_name() -> None:
    manifest = {
        "inputs": [
            {"name": "a", "shape": ["batch", 2], "dtype": "int64"},
            {"name": "b", "shape": ["batch"], "dtype": "str"},
        ]
    }
    inputs = orjson.loads(payload.body_for(manifest, 2))["inputs"]
    assert set(inputs) == {"a", "b"}
    assert all(isinstance(v, int) for row in inputs["a"] for v in row)
    assert inputs["b"] == ["s0", "s1"]


@pytest.mark.parametrize(
    ("manifest", "batch", "words"),
    [
        ({"inputs": []}, 1, "no inputs"),
        ({"inputs": [{"name": "x", "shape": [None, 2], "dtype": "float32"}]}, 0, "at least 1"),
        ({"inputs": [{"name": "x", "shape": [None, 2], "dtype": "complex64"}]}, 1, "complex64"),
    ],
)
def test_impossible_payloads_say_why(manifest: dict, batch: int, words: str) -> None:
    with pytest.raises(PayloadError, match=words):
        payload.body_for(manifest, batch)


def _records() -> list[stats.Record]:
    out = [stats.Record(100.0 + i / 100, float(i + 1), 200, "1") for i in range(90)]
    out += [stats.Record(100.0 + i / 100, 5.0, 200, "2") for i in range(8)]
    out += [stats.Record(101.0, 1.0, 429, "-"), stats.Record(101.0, 2.0, 0, "-", "ConnectionError")]
    return out


def test_summary_counts_throttles_apart_from_errors() -> None:
    s = stats.summarize(_records())
    assert (s.requests, s.ok, s.throttles, s.errors) == (100, 98, 1, 1)
    assert s.p50_ms <= s.p90_ms <= s.p99_ms <= s.max_ms


def test_split_by_model_version_keeps_both_sides_of_a_canary() -> None:
    split = stats.by_version(_records())
    assert set(split) == {"1", "2", "-"}
    assert split["1"].requests == 90 and split["2"].requests == 8
    assert split["2"].p99_ms == 5.0


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert stats.percentile(values, 50) == 50.0
    assert stats.percentile(values, 99) == 99.0
    assert stats.percentile(values, 100) == 100.0


def test_records_round_trip_through_the_file_format() -> None:
    line = "1700000000.123456,12.500,200,3,\n"
    assert stats.parse_line(line) == stats.Record(1700000000.123456, 12.5, 200, "3", "")
    assert stats.error_kinds([stats.Record(1.0, 1.0, 0, "-", "Timeout")]) == {"Timeout": 1}


def test_no_records_is_an_error_not_a_zero_report() -> None:
    with pytest.raises(LocustRunError):
        stats.summarize([])
