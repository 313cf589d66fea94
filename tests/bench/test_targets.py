from __future__ import annotations

from pathlib import Path

from bench import coldstart, targets, wrkload
from infra.local.runtime.report import Report


def test_report_durations_read_only_what_was_written_after_the_offset(tmp_path: Path) -> None:
    log = tmp_path / "functions.log"
    first = Report("a", 1, 3.25, 4, 1024, 60, 412.5).line()
    log.write_text(first + "\nsome function output\n")
    offset = targets.log_size(str(log))
    with open(log, "a") as fh:
        fh.write(Report("b", 1, 1.5, 2, 1024, 60, None).line() + "\n")
        fh.write(Report("c", 2, 2.75, 3, 1024, 61, None).line() + "\n")
    assert targets.report_durations(str(log), 0) == [3.25, 1.5, 2.75]
    assert targets.report_durations(str(log), offset) == [1.5, 2.75]
    assert targets.report_durations(None, 0) == []
    assert targets.report_durations(str(log), 0, "Init Duration") == [412.5]


def test_interleaved_cold_starts_keep_a_failing_variant_apart() -> None:
    scripts = {
        "ok": 'import json; print(json.dumps({"init_ms": 1.0, "first_ms": 0.5, "hwm_kb": 2048}))',
        "broken": "raise SystemExit('no model here')",
    }
    out = coldstart.measure_interleaved(scripts, coldstart.base_env({}), runs=2)
    ok = out["ok"]
    assert isinstance(ok, dict) and ok["runs"] == 2 and ok["max_rss_mb"] == 2.0
    assert isinstance(out["broken"], str) and "no model here" in out["broken"]


WRK = """Running 2s test @ https://127.0.0.1:8443/predict
  2 threads and 8 connections
  Latency Distribution
     50%  810.00us
     90%    1.52ms
     99%   12.10ms
  4000 requests in 2.00s, 1.10MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:   1999.50
"""


def test_wrk_output_is_read_in_milliseconds() -> None:
    r = wrkload.parse(WRK, "https://127.0.0.1:8443/predict", 8, 2.0)
    assert (r.requests, r.rps, r.non_2xx, r.socket_errors) == (4000, 1999.5, 3, 3)
    assert (r.p50_ms, r.p90_ms, r.p99_ms) == (0.81, 1.52, 12.1)
