"""`make bench` (`python -m bench`): Slipway next to what users would otherwise run, one run.

    .venv/bin/python -m bench [--quick] [--iterations 500] [--cold-runs 7] [--http-duration 10]

Warm in process (raw onnxruntime, the handler with metrics on and off, naive FastAPI+Mangum,
Flask through serverless-wsgi; batch 1 and 64), cold starts in fresh processes with their
phases, the local platform over HTTPS and gunicorn over HTTP (Locust, then wrk if installed),
Init Duration from the platform's REPORT lines, cost, chart. Writes docs/benchmarks.md,
docs/benchmarks.png and bench/results/suite.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import coldstart, cost, inprocess, models, report, targets, wrkload
from bench.artifact import HANDLER, unpack_built
from infra.loadtest.stats import percentile

REPO = Path(__file__).resolve().parents[1]
BATCHES = (1, 64)
HTTP_USERS = 8
WARMUP_S = 3.0
RUNTIME = ("functions.predict.runtime",)  # imported before the handler: imports vs model load


def warm(ms: list[models.BenchModel], store: str, n: int) -> tuple[dict[str, Any], dict[str, str]]:
    out: dict[str, Any] = {}
    profiles: dict[str, str] = {}
    with inprocess.quiet_stdout():
        for m in ms:
            out[m.label] = {}
            for batch in BATCHES:
                calls = inprocess.contenders(m, batch, store)
                calls["slipway handler, metrics off"] = inprocess.slipway_handler(
                    m, batch, store, SLIPWAY_METRICS="off", POWERTOOLS_SERVICE_NAME="bench-off"
                )
                calls.update(inprocess.hotpath_contenders(m, batch, store))  # issue 14
                rows = {name: inprocess.time_call(fn, n).__dict__ for name, fn in calls.items()}
                raw = rows["raw onnxruntime"]["median_us"]
                for row in rows.values():
                    row["x_raw"] = round(row["median_us"] / raw, 2)
                out[m.label][str(batch)] = rows
                if m is ms[0]:
                    profiles[f"Slipway handler, batch {batch}"] = inprocess.profile(
                        calls["slipway handler"], max(50, n)
                    )
    return out, profiles


def cold(
    ms: list[models.BenchModel], store: str, runs: int, tmp: Path, build: bool
) -> dict[str, Any]:
    artifact: list[str] | str = "not available: skipped (--no-build)"
    if build:
        try:
            artifact = unpack_built(tmp / "artifact")
        except targets.Unavailable as exc:
            artifact = f"not available: {exc}"
    source = [str(REPO), *coldstart.site_packages()]
    out: dict[str, Any] = {}
    for m in ms:
        payload = models.body(m.rows, 1)
        event = inprocess.v2_event(payload)
        env = coldstart.base_env({"SLIPWAY_MODEL": m.ref, "SLIPWAY_STORE": store})
        scripts: dict[str, str | None] = {
            "floor (onnxruntime + numpy, load, run once)": coldstart.floor_script(m.path, payload),
            "Slipway built artifact": None
            if isinstance(artifact, str)
            else coldstart.handler_script(artifact, HANDLER, event, RUNTIME),
            "Slipway handler from the source tree": coldstart.handler_script(
                source, HANDLER, event, RUNTIME
            ),
            "naive FastAPI+Mangum": coldstart.naive_script(m.path, event),
        }
        runnable = {k: v for k, v in scripts.items() if v is not None}
        measured = coldstart.measure_interleaved(runnable, env, runs)
        out[m.label] = {
            name: artifact if script is None else measured[name] for name, script in scripts.items()
        }
    return out


def _locust(ep: targets.Endpoint, payload: bytes, duration: float) -> dict[str, Any]:
    from infra.loadtest import runner, stats
    from infra.loadtest.config import LoadTestConfig

    cfg = LoadTestConfig(host=ep.host, users=HTTP_USERS, duration_s=duration, cacert=ep.cacert)
    # Steady state: a short unmeasured load first starts every worker or environment (cold
    # starts are measured on their own above).
    runner.run(replace(cfg, duration_s=WARMUP_S), payload)
    offset = targets.log_size(ep.function_log)
    row = stats.summarize(runner.run(cfg, payload).records).to_dict()
    # Time inside the function (Lambda's REPORT Duration) against end to end: the rest is
    # gateway, Runtime API, TLS and the client.
    inside = sorted(targets.report_durations(ep.function_log, offset))
    if inside:
        row["function_p50_ms"] = percentile(inside, 50)
    return row


def http(m: models.BenchModel, store: str, duration: float, use_wrk: bool) -> dict[str, Any]:
    """results["http"] (Locust), ["wrk"] (same servers, right after) and ["init_duration_ms"]
    of the environments each target started (from its REPORT lines)."""
    out: dict[str, Any] = {"http": {}, "wrk": {}, "init_duration_ms": {}}
    no_wrk = None if wrkload.have_wrk() else "not available: wrk is not installed"
    no_wrk = no_wrk if use_wrk else "skipped (--no-wrk)"
    for name, target in targets.TARGETS.items():
        locust, wrk = out["http"].setdefault(name, {}), out["wrk"].setdefault(name, {})
        try:
            with target(m.ref, store) as ep:
                for batch in BATCHES:
                    payload = models.body(m.rows, batch)
                    locust[str(batch)] = _locust(ep, payload, duration)
                    url, body = f"{ep.host}/predict", json.loads(payload)
                    wrk[str(batch)] = (
                        no_wrk
                        or wrkload.run(
                            url, body, connections=HTTP_USERS, duration_s=duration
                        ).to_dict()
                    )
                inits = sorted(targets.report_durations(ep.function_log, 0, "Init Duration"))
                if inits:
                    out["init_duration_ms"][name] = {"p50": percentile(inits, 50), "n": len(inits)}
                    out["init_duration_ms"][name].update(min=inits[0], max=inits[-1])
        except targets.Unavailable as exc:
            for rows in (locust, wrk):
                rows.update({str(b): f"not available: {exc}" for b in BATCHES})
    return out


def costs(results: dict[str, Any], prices: cost.Prices, memory_mb: int | None) -> dict[str, Any]:
    label = next(iter(results["warm"]))
    cold_rows = results["cold"][label]
    measured = [r["max_rss_mb"] for r in cold_rows.values() if isinstance(r, dict)]
    artifact = cold_rows.get("Slipway built artifact")
    rss = artifact["max_rss_mb"] if isinstance(artifact, dict) else max(measured)
    memory = memory_mb or cost.lambda_memory_mb(rss)
    gunicorn = results["http"].get(report.GUNICORN, {})
    rows = []
    for batch in BATCHES:
        duration_ms = results["warm"][label][str(batch)]["slipway handler"]["median_us"] / 1000
        g = gunicorn.get(str(batch))
        pps = g["rps"] * batch if isinstance(g, dict) else None
        rows.append(cost.estimate(batch, duration_ms, memory, prices, pps).to_dict())
    return {"model": label, "max_rss_mb": rss, "memory_mb": memory, "rows": rows}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="tiny counts: checks it runs, not numbers")
    p.add_argument("--iterations", type=int, default=500, help="timed calls per warm contender")
    p.add_argument("--cold-runs", type=int, default=7, help="fresh processes per cold variant")
    p.add_argument("--http-duration", type=float, default=10.0, help="seconds per HTTP load")
    p.add_argument("--skip-http", action="store_true")
    p.add_argument("--no-wrk", action="store_true", help="Locust only over HTTP(S)")
    p.add_argument("--no-build", action="store_true", help="skip the built artifact's cold start")
    p.add_argument("--store", help="model store (default: $SLIPWAY_STORE or model_store/models)")
    p.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    p.add_argument("--json", default=str(REPO / "bench" / "results" / "suite.json"))
    p.add_argument(
        "--hotpath-out",
        default=str(REPO / "docs" / "hotpath.md"),
        help="the hot path's interleaved session (bench.hotpath), in the same run",
    )
    p.add_argument("--skip-hotpath", action="store_true")
    p.add_argument("--memory-mb", type=int, help="Lambda memory (default: from measured RSS)")
    p.add_argument(
        "--x86-gb-second",
        type=float,
        default=cost.X86_GB_SECOND,
        help="Lambda x86_64 $ per GB-second (default: us-east-1, aws.amazon.com/lambda/pricing)",
    )
    p.add_argument(
        "--arm-gb-second", type=float, default=cost.ARM_GB_SECOND, help="Lambda arm64 $/GB-s"
    )
    p.add_argument(
        "--per-million-requests",
        type=float,
        default=cost.PER_MILLION_REQUESTS,
        help="Lambda $ per million requests",
    )
    p.add_argument("--instance-name", default=cost.INSTANCE_NAME)
    p.add_argument(
        "--instance-hourly",
        type=float,
        default=cost.INSTANCE_HOURLY,
        help="always-on instance $ per hour (default: t4g.medium on demand, us-east-1)",
    )
    p.add_argument("--price-date", default=cost.PRICE_DATE, help="date the prices are from")
    args = p.parse_args(argv)
    if args.quick:
        args.iterations, args.cold_runs = min(args.iterations, 20), min(args.cold_runs, 1)
        args.http_duration = min(args.http_duration, 2.0)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.simplefilter("ignore")  # powertools warns on re-adding default dimensions
    from model_store.backends.local import LocalStore

    store = str(LocalStore(args.store).root.resolve())
    prices = cost.Prices(
        args.x86_gb_second,
        args.arm_gb_second,
        args.per_million_requests,
        args.instance_name,
        args.instance_hourly,
        args.price_date,
    )
    results: dict[str, Any] = {"conditions": report.conditions("before")}
    ms = models.ensure(store)
    print("warm, in process…", flush=True)
    results["warm"], results["profiles"] = warm(ms, store, args.iterations)
    if not args.skip_hotpath:
        # Issue 14's targets: the limit handler and raw onnxruntime against Slipway's
        # handlers, interleaved (bench/hotpath.py), in this run; its own report and JSON.
        print("the hot path, interleaved…", flush=True)
        from bench import hotpath

        hot_json = Path(args.json).with_name("hotpath.json")
        hot = ["--store", store, "--out", args.hotpath_out, "--json", str(hot_json)]
        if args.quick:
            hot += ["--rounds", "1", "--iterations", "40", "--cold-runs", "1"]
        hotpath.main(hot)
        results["hotpath"] = json.loads(hot_json.read_text())["targets"]
    print("cold start, fresh processes…", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        results["cold"] = cold(ms, store, args.cold_runs, Path(tmp), not args.no_build)
    print("over HTTP(S), 8 users…", flush=True)
    skipped: dict[str, Any] = {"http": {}, "wrk": {}, "init_duration_ms": {}}
    results.update(
        skipped if args.skip_http else http(ms[0], store, args.http_duration, not args.no_wrk)
    )
    results["cost"] = costs(results, prices, args.memory_mb)
    results["prices"] = prices.__dict__
    results["conditions"].update(report.conditions("after"))
    results["targets"] = report.targets(results)
    out, js = Path(args.out), Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps(results, indent=2) + "\n")
    from bench.charts import suite_chart

    chart = suite_chart(results, out.with_suffix(".png"))
    out.write_text(report.markdown(results, chart.name))
    print(report.ratio_lines(results))
    print(f"wrote {out}, {chart}, {js}")
    return 0
