"""The benchmark code runs end to end with tiny counts. Smoke only: no timing is asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import coldstart, inprocess, models, suite, targets

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bench_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[models.BenchModel]]:
    store = str(tmp_path_factory.mktemp("bench-store"))
    return store, models.ensure(store)


def test_both_models_are_registered_once(bench_models: tuple[str, list]) -> None:
    store, ms = bench_models
    assert [m.ref for m in ms] == ["digits@1", f"{models.FOREST}@1"]
    again = models.ensure(store)
    assert [m.ref for m in again] == [m.ref for m in ms]


def test_every_in_process_contender_answers(bench_models: tuple[str, list]) -> None:
    store, ms = bench_models
    with inprocess.quiet_stdout():
        calls = inprocess.contenders(ms[0], 4, store)
        timings = {name: inprocess.time_call(fn, 3, warmup=1) for name, fn in calls.items()}
        text = inprocess.profile(calls["slipway handler"], 3)
    assert set(timings) == {
        "raw onnxruntime",
        "slipway handler",
        "naive FastAPI+Mangum",
        "Flask serverless-wsgi",
    }
    assert all(t.n == 3 and t.median_us > 0 for t in timings.values())
    assert "ncalls" in text


def test_a_cold_start_script_reports_its_numbers(bench_models: tuple[str, list]) -> None:
    _, ms = bench_models
    script = coldstart.floor_script(ms[0].path, models.body(ms[0].rows, 1))
    result = coldstart.measure(script, coldstart.base_env({}), runs=1)
    assert result.runs == 1 and result.wall_ms > result.init_ms > 0 and result.max_rss_mb > 0
    # The phases: interpreter start, then imports (numpy, onnxruntime), then the model load.
    assert result.interpreter_ms is not None and result.imports_ms is not None
    assert 0 < result.interpreter_ms < result.wall_ms and 0 < result.imports_ms < result.init_ms


def test_a_failing_cold_start_script_raises() -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        coldstart.run_once("1/0", coldstart.base_env({}))


def test_the_gunicorn_target_serves_and_stops(bench_models: tuple[str, list]) -> None:
    from infra.loadtest import runner
    from infra.loadtest.config import LoadTestConfig

    store, ms = bench_models
    with targets.gunicorn_flask(ms[0].ref, store) as endpoint:
        cfg = LoadTestConfig(host=endpoint.host, users=2, duration_s=10, max_requests=20)
        run = runner.run(cfg, models.body(ms[0].rows, 2))
    assert len(run.records) == 20 and all(r.ok for r in run.records)


def test_the_suite_writes_its_report(bench_models: tuple[str, list], tmp_path: Path) -> None:
    store, _ = bench_models
    out = tmp_path / "benchmarks.md"
    argv = ["--iterations", "3", "--cold-runs", "1", "--skip-http", "--no-build"]
    argv += ["--store", store]
    argv += ["--quick", "--hotpath-out", str(tmp_path / "hotpath.md")]
    assert suite.main([*argv, "--out", str(out), "--json", str(tmp_path / "suite.json")]) == 0
    assert {t["what"] for t in json.loads((tmp_path / "hotpath.json").read_text())["targets"]} >= {
        "JSON /predict, batch 1",
        "OIP binary, batch 64",
    }
    assert "The hot path at the limit" in out.read_text()
    results = json.loads((tmp_path / "suite.json").read_text())
    assert set(results["warm"]) == {"example (digits logistic)", "forest (100 trees)"}
    assert "slipway handler, metrics off" in results["warm"]["example (digits logistic)"]["64"]
    assert {t["verdict"] for t in results["targets"]} <= {"met", "missed", "not measured"}
    assert len(results["cost"]["rows"]) == 2
    text = out.read_text()
    assert "## Targets" in text and "## Cold start" in text and "## Cost" in text
    assert "| example (digits logistic) | Slipway built artifact | not available" in text
    assert "## Over HTTP(S) with wrk" in text and "model load ms" in text
    assert (tmp_path / "benchmarks.png").read_bytes()[:8] == PNG
