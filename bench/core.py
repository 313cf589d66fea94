"""Core numbers (issue 2): cold start, warm per-invoke latency, raw onnxruntime, same run.

`make bench` runs it after `make example`; it prints a table and writes bench/results/core.json.
Every measurement is a function returning numbers, so other benchmarks can import them.
The model is `digits` (or --model) from the local store (SLIPWAY_STORE or model_store/models).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "core.json"
CTX = SimpleNamespace(aws_request_id="bench", function_name="predict")
_MARK = "BENCH "

# A fresh interpreter: import the runtime's modules, import the handler (which loads the
# model), answer one event. CLOCK_MONOTONIC is system-wide, so the parent can subtract.
_COLD = f"""
import time
t_start = time.monotonic()
import json, sys
import functions.predict.runtime
t_imports = time.monotonic()
from functions.predict.handler import handler
t_init = time.monotonic()
response = handler(json.loads(sys.stdin.read()), None)
t_done = time.monotonic()
print({_MARK!r} + json.dumps({{"status": response["statusCode"], "start": t_start,
      "imports": t_imports, "init": t_init, "done": t_done}}), flush=True)
"""


def summary(samples_ns: list[int]) -> dict[str, float]:
    """p50, p99 and mean in milliseconds."""
    ms = sorted(s / 1e6 for s in samples_ns)
    return {
        "p50_ms": round(statistics.median(ms), 4),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 4),
        "mean_ms": round(statistics.fmean(ms), 4),
        "n": len(ms),
    }


def time_calls(fn: Callable[[], Any], n: int, warmup: int = 50) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return summary(samples)


def digits_rows(batch: int) -> np.ndarray:
    """The first `batch` rows of scikit-learn's bundled digits, as the model takes them."""
    from sklearn.datasets import load_digits

    return load_digits().data[:batch].astype(np.float32)


def predict_event(rows: np.ndarray) -> dict[str, Any]:
    from infra.events import http_api_v2

    body = json.dumps({"inputs": rows.tolist()}).encode()
    return http_api_v2("POST", "/predict", body=body, headers={"content-type": "application/json"})


_SINK: list[Any] = []


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """EMF metrics and logs go to stdout, as on Lambda; here to /dev/null, still written.

    The sink stays open: powertools' Logger keeps the stream it was first built with.
    """
    if not _SINK:
        _SINK.append(open(os.devnull, "w"))  # noqa: SIM115
    with contextlib.redirect_stdout(_SINK[0]):
        yield


def _checked(handler: Callable[..., dict[str, Any]], event: dict[str, Any]) -> Callable[[], Any]:
    response = handler(event, CTX)
    if response["statusCode"] != 200:
        raise RuntimeError(f"the handler answered {response['statusCode']}: {response['body']}")
    return lambda: handler(event, CTX)


def warm_handler(env: Mapping[str, str], rows: np.ndarray, n: int) -> dict[str, float]:
    """Per-invoke latency of the prediction function's handler, in process, one event reused."""
    from functions.predict.runtime import build

    with quiet_stdout():
        function = build(env)
        return time_calls(_checked(function, predict_event(rows)), n)


def warm_flask(env: Mapping[str, str], rows: np.ndarray, n: int) -> dict[str, float]:
    """The same for the classic Flask app through serverless-wsgi (the classic baseline)."""
    from functions.flask_api.app import create_app
    from functions.flask_api.wsgi_lambda import make_handler
    from functions.predict.config import Settings
    from functions.predict.service import PredictionService

    service = PredictionService.from_settings(Settings.from_mapping(env))
    handler = make_handler(create_app(service), service.model_headers)
    return time_calls(_checked(handler, predict_event(rows)), n)


def raw_onnxruntime(model: bytes, rows: np.ndarray, n: int) -> dict[str, float]:
    """`InferenceSession.run` alone, with the SessionOptions of model_store/loader.py."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feeds = {session.get_inputs()[0].name: rows}
    return time_calls(lambda: session.run(None, feeds), n)


def cold_start(env: Mapping[str, str], runs: int) -> dict[str, Any]:
    """Fresh process to first handler response, `runs` times; medians of each phase (ms)."""
    event = json.dumps(predict_event(digits_rows(1)))
    phases: dict[str, list[float]] = {
        "total": [],
        "interpreter": [],
        "imports": [],
        "model_load": [],
        "first_invoke": [],
    }
    for _ in range(runs):
        spawn = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", _COLD],
            input=event,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if out.returncode != 0:
            raise RuntimeError(f"the cold-start process failed:\n{out.stderr[-2000:]}")
        line = next(x for x in out.stdout.splitlines() if x.startswith(_MARK))
        t = json.loads(line[len(_MARK) :])
        if t["status"] != 200:
            raise RuntimeError(f"the cold-start invoke answered {t['status']}")
        for name, value in (
            ("total", t["done"] - spawn),
            ("interpreter", t["start"] - spawn),
            ("imports", t["imports"] - t["start"]),
            ("model_load", t["init"] - t["imports"]),
            ("first_invoke", t["done"] - t["init"]),
        ):
            phases[name].append(value * 1000)
    result: dict[str, Any] = {f"{k}_ms": round(statistics.median(v), 1) for k, v in phases.items()}
    result["runs"] = runs
    result["total_min_max_ms"] = [round(min(phases["total"]), 1), round(max(phases["total"]), 1)]
    return result


def run(store: str, model: str | None, runs: int, iterations: Mapping[int, int]) -> dict[str, Any]:
    from model_store.resolve import fetch

    manifest, data = fetch(model, store_root=store)
    env = {"SLIPWAY_STORE": store, "SLIPWAY_MODEL": manifest.ref, "SLIPWAY_METRICS": "on"}
    off = {**env, "SLIPWAY_METRICS": "off", "POWERTOOLS_SERVICE_NAME": "bench-metrics-off"}
    result: dict[str, Any] = {
        "model": manifest.ref,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        },
        "cold_start": cold_start(env, runs),
        "batches": {},
    }
    for batch, n in iterations.items():
        rows = digits_rows(batch)
        raw = raw_onnxruntime(data, rows, n)
        handler = warm_handler(env, rows, n)
        result["batches"][str(batch)] = {
            "raw_onnxruntime": raw,
            "handler": handler,
            "handler_metrics_off": warm_handler(off, rows, n),
            "flask_serverless_wsgi": warm_flask(env, rows, n),
            "handler_over_raw_p50": round(handler["p50_ms"] / raw["p50_ms"], 2),
        }
    result["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def table(result: Mapping[str, Any]) -> str:
    cold = result["cold_start"]
    lines = [
        f"model {result['model']}, Python {result['machine']['python']}, "
        f"{result['machine']['cpus']} CPUs, load {result['machine']['loadavg_before']}",
        f"cold start (fresh process to first response), median of {cold['runs']}: "
        f"{cold['total_ms']} ms = interpreter {cold['interpreter_ms']} + imports "
        f"{cold['imports_ms']} + model load {cold['model_load_ms']} + first invoke "
        f"{cold['first_invoke_ms']} (min/max {cold['total_min_max_ms']})",
        f"{'warm, per invoke':<34}{'batch':>6}{'p50 ms':>10}{'p99 ms':>10}{'x raw p50':>11}",
    ]
    for batch, rows in result["batches"].items():
        raw_p50 = rows["raw_onnxruntime"]["p50_ms"]
        for name, s in rows.items():
            if isinstance(s, dict):
                ratio = s["p50_ms"] / raw_p50
                lines.append(
                    f"{name:<34}{batch:>6}{s['p50_ms']:>10.4f}{s['p99_ms']:>10.4f}{ratio:>11.2f}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.environ.get("SLIPWAY_STORE") or "model_store/models")
    parser.add_argument("--model", default=None, help="name@version (default: newest digits)")
    parser.add_argument("--runs", type=int, default=10, help="fresh processes for cold start")
    parser.add_argument("--iterations", type=int, default=2000, help="warm calls at batch 1")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    iterations = {1: args.iterations, 64: max(100, args.iterations // 2)}
    result = run(str(Path(args.store).resolve()), args.model, args.runs, iterations)
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
