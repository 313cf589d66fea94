"""`python -m bench.hotpath`: the hot path at the limit, written to docs/hotpath.md.

    .venv/bin/python -m bench.hotpath [--rounds 7] [--iterations 300] [--chunk 20] [--settle 5]
        [--cold-runs 5]

Warm, in process, with the example model and the 100-tree forest at batch 1 and 64: raw
onnxruntime, the bare "limit" handler (orjson parse, onnxruntime run, orjson serialize), and
Slipway's handler (metrics on, every check kept) on JSON POST /predict, OIP JSON and OIP
binary (base64 in the event, as API Gateway sends a binary body; and the same body as bytes,
as HTTP mode gets it). The machine is shared and its speed drifts (1.5x within a minute), so
the contenders of one model and batch are timed in one interleaved session: they take turns
in chunks of `--chunk` calls, one chunk of each per cycle, the order rotated every cycle, each
call timed with perf_counter_ns, each chunk opened by `--settle` untimed calls. Each contender
gets `--rounds` x `--iterations` timed calls (the budget the former rounds of `--iterations`
calls had), so ceil(rounds x iterations / chunk) cycles. A contender's figure is the median
of all its calls and a ratio is of two medians. A target is met on the paired ratio: the
ratio of the two contenders' chunk medians cycle by cycle, which ran milliseconds apart under
the same machine state, its median over cycles (quartiles beside it). The ratio of medians
is reported too; when the machine flips between a fast and a slow state during a session, the
two medians can land in different states and that ratio is off either way. The layer table and the reduction check are timed
the same way. Then a cProfile of what is left, and the cold-start cost of each choice in
fresh processes: the direct routes, the EMF templates, the FastAPI app that only /docs and
/openapi.json still build.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import inprocess, models
from bench.coldstart import base_env

REPO = Path(__file__).resolve().parents[1]
BATCHES = (1, 64)
NAMES = (
    "raw onnxruntime",
    "limit handler",
    "slipway handler",
    "slipway OIP JSON",
    "slipway OIP binary",
    "slipway OIP binary, bytes (HTTP mode)",
)
# (what, contender, against, at most): the targets.
TARGETS = (
    ("JSON /predict, batch 1", "slipway handler", "limit handler", 1, 1.5),
    ("JSON /predict, batch 64", "slipway handler", "limit handler", 64, 1.2),
    ("OIP binary, batch 64", "slipway OIP binary", "raw onnxruntime", 64, 2.0),
    ("OIP binary as bytes, batch 64", NAMES[-1], "raw onnxruntime", 64, 2.0),
)


def contenders(
    m: models.BenchModel, batch: int, store: str, baseline: str | None = None
) -> dict[str, inprocess.Call]:
    from functions.predict.exchange import Request
    from functions.predict.oip import HEADER_LENGTH
    from functions.predict.runtime import build

    calls = inprocess.contenders(m, batch, store) | inprocess.hotpath_contenders(m, batch, store)
    out = {name: calls[name] for name in NAMES if name in calls}
    # HTTP mode hands the dispatcher the body's bytes (no base64): the ASGI adapter's call.
    fn = build(inprocess.function_env(m, store))
    event = inprocess.oip_events(m, batch)["OIP binary"]
    body = base64.b64decode(event["body"])
    headers = {k.lower(): v for k, v in event["headers"].items()}
    path = event["requestContext"]["http"]["path"]
    assert HEADER_LENGTH in headers

    def as_bytes() -> Any:
        answer = fn.dispatch(Request("POST", path, headers, body))
        if answer.status != 200:
            raise RuntimeError(answer.body[:300])
        return answer

    out[NAMES[-1]] = as_bytes
    if baseline is not None:
        out |= before(m, batch, store, baseline)
    return out


def before(m: models.BenchModel, batch: int, store: str, rev: str) -> dict[str, inprocess.Call]:
    """The handler of commit `rev` (bench.baseline) on the same events: `BEFORE` contenders."""
    from bench import baseline

    fn = baseline.runtime(rev).build(inprocess.function_env(m, store))
    ctx = inprocess.context()
    events = {
        "slipway handler": inprocess.v2_event(models.body(m.rows, batch)),
        "slipway OIP binary": inprocess.oip_events(m, batch)["OIP binary"],
    }

    def call(event: dict[str, Any]) -> inprocess.Call:
        return lambda: inprocess.ok(fn(event, ctx))

    return {BEFORE + name: call(event) for name, event in events.items()}


BEFORE = "before: "


@dataclass(frozen=True)
class Budget:
    """How the contenders of one session are timed: `cycles` turns of `chunk` calls each."""

    cycles: int
    chunk: int
    settle: int = 5

    @classmethod
    def of(cls, rounds: int, iterations: int, chunk: int, settle: int = 5) -> Budget:
        # rounds x iterations timed calls per contender, as the former rounds had.
        return cls(max(1, math.ceil(rounds * iterations / chunk)), chunk, settle)


def interleaved(calls: dict[str, inprocess.Call], budget: Budget) -> inprocess.Interleaved:
    """One interleaved session of `calls` (inprocess.interleave)."""
    return inprocess.interleave(calls, budget.cycles, budget.chunk, settle=budget.settle)


def summaries(session: inprocess.Interleaved) -> dict[str, dict[str, Any]]:
    return {name: session.summary(name) for name in session.samples}


def layers(m: models.BenchModel, batch: int, store: str, budget: Budget) -> dict[str, Any]:
    """The limit handler, then Slipway's JSON /predict layer by layer up to the whole handler,
    as the handler runs it (runtime.PredictFunction.__call__): each row adds one layer of the
    real code (the event source reading the event into a Request; the compiled run; the
    dispatcher's route and body form with every check, i.e. Content-Type, size, the number
    check, batch, row shape, input finiteness, the model's id, the NaN and size checks; the
    event source's result; then the handler's EMF line), so the differences say what each
    layer costs inside a request."""
    import orjson

    from functions.predict.adapters import apigw_v2
    from functions.predict.runtime import build

    fn = build(inprocess.function_env(m, store))
    svc, ctx, dispatch = fn.service, inprocess.context(), fn.dispatch
    sess, names, run = svc.model.session, svc.model.output_names, svc.model.run
    source = apigw_v2.SOURCE
    event = inprocess.v2_event(models.body(m.rows, batch))
    opt, headers = orjson.OPT_SERIALIZE_NUMPY, {"content-type": "application/json"}

    def answer(outputs: Any) -> dict[str, Any]:
        body = orjson.dumps({"outputs": outputs}, option=opt).decode()
        return {"statusCode": 200, "headers": headers, "body": body, "isBase64Encoded": False}

    def limit() -> Any:
        x = np.asarray(orjson.loads(event["body"])["inputs"], dtype=np.float32)
        return answer(dict(zip(names, sess.run(None, {"input": x}), strict=True)))

    def read() -> Any:
        assert source.infer(event)
        r = source.read(event)
        x = np.asarray(orjson.loads(r.body)["inputs"], dtype=np.float32)
        return answer(dict(zip(names, sess.run(None, {"input": x}), strict=True)))

    def compiled() -> Any:
        assert source.infer(event)
        r = source.read(event)
        x = np.asarray(orjson.loads(r.body)["inputs"], dtype=np.float32)
        return answer(dict(zip(names, run({"input": x}), strict=True)))

    def dispatched() -> Any:
        assert source.infer(event)
        done = dispatch(source.read(event))
        assert done.status == 200
        return {"statusCode": 200, "headers": headers, "body": done.body.decode()}

    def result() -> Any:
        assert source.infer(event)
        return source.write(dispatch(source.read(event)))

    def handler() -> Any:
        return fn(event, ctx)

    steps = {
        "limit handler": limit,
        "+ the event read into a Request (adapters/apigw_v2)": read,
        "+ the session's compiled run (model_store.loader.runner)": compiled,
        "+ the dispatcher: route, body form, every check (dispatch.Dispatcher)": dispatched,
        "+ the Lambda result (apigw_v2.write: headers, model headers)": result,
        "= Slipway's handler (+ EMF line)": handler,
    }
    session = interleaved(steps, budget)
    out = summaries(session)
    order = list(steps)
    # Each layer against the row before it, paired cycle by cycle (same machine state).
    for before_, name in zip(order, order[1:], strict=False):
        out[name]["added"] = session.difference(name, before_)
    return out


def after_run(m: models.BenchModel, store: str, budget: Budget) -> dict[str, Any]:
    """What one numpy reduction costs right after onnxruntime's run, against on its own: the
    reason the JSON paths look for orjson's `null` instead of reducing the outputs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(m.path), opts, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(m.rows[:1], dtype=np.float32)
    out = sess.run(None, {"input": x})[-1]
    add = np.add.reduce
    calls: dict[str, inprocess.Call] = {
        "onnxruntime run": lambda: sess.run(None, {"input": x}),
        "run, then one reduction of its output": lambda: add(
            sess.run(None, {"input": x})[-1], axis=None, dtype=np.float64
        ),
        "the reduction alone": lambda: add(out, axis=None, dtype=np.float64),
    }
    session = interleaved(calls, budget)
    out = summaries(session)
    out["run, then one reduction of its output"]["added"] = session.difference(
        "run, then one reduction of its output", "onnxruntime run"
    )
    return out


COLD_SCRIPT = r"""
import json, os, sys, time
from types import SimpleNamespace
t0 = time.perf_counter()
from functions.predict.runtime import build
t_import = time.perf_counter() - t0
from infra.events import http_api_v2
events = json.loads(sys.argv[1])
t = time.perf_counter()
fn = build(dict(os.environ))  # the store and model the bench passes (SLIPWAY_*)
t_build = time.perf_counter() - t
ctx = SimpleNamespace(aws_request_id="cold")
out = {"import_ms": t_import * 1000, "build_ms": t_build * 1000}
from functions.predict.dispatch import Dispatcher
from functions.predict.metrics import EmfLines
from functions.predict.runtime import UNITS
t = time.perf_counter(); Dispatcher(fn.service, fn.logger); out["dispatcher_init_ms"] = (time.perf_counter() - t) * 1000
t = time.perf_counter()
lines = EmfLines(fn.metrics, UNITS)
for names in (("Latency", "BatchSize"), ("Latency", "BatchSize", "ColdStart")):
    lines.template(names)
out["emf_templates_ms"] = (time.perf_counter() - t) * 1000
for key, event in events.items():
    t = time.perf_counter()
    r = fn(event, ctx)
    assert r["statusCode"] == 200, (key, r["body"][:200])
    out[key + "_ms"] = (time.perf_counter() - t) * 1000
out["fastapi_loaded_before_docs"] = "fastapi" in sys.modules and "openapi" not in " ".join(events)
print(json.dumps(out))
"""


def cold(m: models.BenchModel, store: str, runs: int) -> dict[str, Any]:
    from infra.events import http_api_v2

    name = m.ref.split("@")[0]
    oip = inprocess.oip_events(m, 1)
    events = {
        "first GET /health": http_api_v2("GET", "/health"),
        "first GET /model": http_api_v2("GET", "/model"),
        "first GET /v2/models/NAME": http_api_v2("GET", f"/v2/models/{name}"),
        "first POST /predict": inprocess.v2_event(models.body(m.rows, 1)),
        "first OIP infer (binary)": oip["OIP binary"],
        "first GET /openapi.json (imports FastAPI)": http_api_v2("GET", "/openapi.json"),
        "second GET /openapi.json": http_api_v2("GET", "/openapi.json"),
    }
    env = base_env({"SLIPWAY_MODEL": m.ref, "SLIPWAY_STORE": store})
    rows = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", COLD_SCRIPT, json.dumps(events)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    keys = [k for k in rows[0] if k.endswith("_ms")]
    return {k: round(statistics.median(r[k] for r in rows), 2) for k in keys} | {
        "runs": runs,
        "fastapi_imported_before_docs": any(r["fastapi_loaded_before_docs"] for r in rows),
    }


def profiles(m: models.BenchModel, store: str, n: int) -> dict[str, str]:
    out = {}
    for batch, name in (
        (1, "slipway handler"),
        (64, "slipway handler"),
        (64, "slipway OIP binary"),
    ):
        calls = contenders(m, batch, store)
        out[f"{name}, batch {batch}"] = inprocess.profile(calls[name], n, top=14)
    return out


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "# The hot path at the limit",
        "",
        "`python -m bench.hotpath` (also in `make bench`'s warm table, `python -m bench`). "
        f"{r['conditions']}",
        "",
        "Warm, in process, one API Gateway v2 event per contender, metrics on (EMF lines to "
        "/dev/null), every check kept. The machine is shared and its speed drifts, so the "
        "contenders of one model and batch are timed in one interleaved session: they take "
        f"turns in chunks of {r['chunk']} timed calls (after {r['settle']} untimed ones, as the "
        "first calls after a switch run on the other contender's caches), one chunk of "
        f"each per cycle, the order rotated every cycle, {r['cycles']} cycles "
        f"({r['cycles'] * r['chunk']} timed calls per contender, `--rounds {r['rounds']}` x "
        f"`--iterations {r['iterations']}`). `µs` is the median of all of a contender's calls, "
        "`p25-p75` their quartiles, `quietest chunk` the lowest of its chunks' medians. "
        "`x limit` and `x raw` divide medians by the limit handler's and raw onnxruntime's "
        "from the same session.",
        "",
        "| model | batch | contender | µs | p25-p75 | quietest chunk | x limit | x raw |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, per in r["warm"].items():
        for batch, rows in per.items():
            limit, raw = rows["limit handler"]["median_us"], rows["raw onnxruntime"]["median_us"]
            for name, row in rows.items():
                us = row["median_us"]
                lines.append(
                    f"| {label} | {batch} | {name} | {us:.1f} | "
                    f"{row['p25_us']:.1f}-{row['p75_us']:.1f} | {row['min_chunk_us']:.1f} | "
                    f"{us / limit:.2f} | {us / raw:.2f} |"
                )
    lines += [
        "",
        "## Targets",
        "",
        "`ratio` divides the two medians. `per cycle` is the same ratio taken cycle by cycle, of "
        "the two chunks' medians, which ran milliseconds apart under one machine state: its "
        "median over the cycles (a target is met on it) and quartiles, and `cycles within` the "
        "share of cycles whose ratio is within the target. "
        "Where `ratio` falls outside the per-cycle quartiles, the machine switched between a "
        "fast and a slow state during the session: a median over such a mixture lands in "
        "either state, and not in the same one for both contenders, while the per-cycle ratio "
        "compares chunks run in the same state.",
        "",
        "| model | target | ratio | per cycle: median [p25, p75] | cycles within | at most | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in r["targets"]:
        met = "yes" if row["met"] else "**no**"
        lines.append(
            f"| {row['model']} | {row['what']} ({row['against']}) | {row['ratio']:.2f} | "
            f"{row['cycle_median']:.2f} [{row['cycle_p25']:.2f}, {row['cycle_p75']:.2f}] | "
            f"{row['cycles_within']:.0%} | {row['limit']} | {met} |"
        )
    if r.get("before_after"):
        lines += [
            "",
            "## Before and after",
            "",
            f"The handler of commit {r['baseline']} (`--baseline`, bench/baseline.py) timed in "
            "the same interleaved sessions as today's, on the same events. `after / before` is "
            "the ratio of medians; `per cycle` the paired ratio's median and quartiles.",
            "",
            "| model | batch | contender | before µs | after µs | after / before | per cycle |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for row in r["before_after"]:
            lines.append(
                f"| {row['model']} | {row['batch']} | {row['contender']} | "
                f"{row['before_us']:.1f} | {row['after_us']:.1f} | {row['ratio']:.2f} | "
                f"{row['cycle_median']:.2f} [{row['cycle_p25']:.2f}, {row['cycle_p75']:.2f}] |"
            )
    lines += ["", "## What dominates what is left", ""]
    for label, per in r["warm"].items():
        b1, b64 = per["1"], per["64"]
        us = {k: {n: row["median_us"] for n, row in v.items()} for k, v in (("1", b1), ("64", b64))}
        text_to_array = us["64"]["limit handler"] - us["64"]["raw onnxruntime"]
        event_cost = us["64"]["slipway OIP binary"] - us["64"][NAMES[-1]]
        protocol_cost = us["64"][NAMES[-1]] - us["64"]["raw onnxruntime"]
        lines.append(
            f"- {label}: at batch 64 the limit handler spends {text_to_array:.0f} µs beyond "
            "onnxruntime (JSON text to a float32 array and back), which no JSON path avoids; "
            f"OIP binary as bytes spends {protocol_cost:.0f} µs beyond onnxruntime (the "
            "header's JSON, the tensor's checks, the answer's header), and through API Gateway "
            f"{event_cost:.0f} µs more for the Lambda event around it (the body's base64 "
            "decoded and the answer's encoded, the event read, the result, the EMF line); "
            "Slipway's JSON path at batch 1 adds "
            f"{us['1']['slipway handler'] - us['1']['limit handler']:.0f} µs to the limit "
            "handler (layer by layer below)."
        )
    lines += ["", "## JSON /predict layer by layer (example model)", ""]
    lines += [
        "Each row adds one layer of the real code to the limit handler; the last is the "
        "whole handler. The rows of one batch are timed in one interleaved session, as "
        "above; µs is the median. `+µs` is what the layer adds (difference of the medians), "
        "`per cycle` the median and quartiles over cycles of the difference between the two "
        "rows' chunks in the same cycle.",
        "",
        "| batch | layers | µs | +µs | per cycle: median [p25, p75] |",
        "| --- | --- | --- | --- | --- |",
    ]
    for batch, rows in r["layers"].items():
        for name, row in rows.items():
            us, d = row["median_us"], row.get("added")
            added = "" if d is None else f"{d['us']:+.1f}"
            spread = "" if d is None else _spread(d)
            lines.append(f"| {batch} | {name} | {us:.1f} | {added} | {spread} |")
    ar = {k: v["median_us"] for k, v in r["after_run"].items()}
    added = r["after_run"]["run, then one reduction of its output"]["added"]
    extra = added["us"]
    lines += [
        "",
        "One numpy reduction right after onnxruntime's run (example model, batch 1, medians of "
        "one interleaved session): "
        f"run {ar['onnxruntime run']:.1f} µs, run + reduction "
        f"{ar['run, then one reduction of its output']:.1f} µs ({extra:+.1f}; per cycle "
        f"{_spread(added)}), the reduction "
        f"alone {ar['the reduction alone']:.1f} µs. The JSON paths therefore check outputs for "
        "NaN/±inf by searching the serialized answer for orjson's `null` and reduce the arrays "
        "only when it is there.",
    ]
    lines += ["", "## Cold start, each choice (fresh processes, median ms)", ""]
    lines += ["| step | ms |", "| --- | --- |"]
    for key, value in r["cold"].items():
        lines.append(f"| {key.removesuffix('_ms')} | {value} |")
    lines += ["", "## What is left (cProfile, own time, example model)", ""]
    for title, text in r["profiles"].items():
        lines += [f"### {title}", "", "```", text, "```", ""]
    return "\n".join(lines) + "\n"


def _spread(d: dict[str, float]) -> str:
    return f"{d['cycle_median_us']:+.1f} [{d['cycle_p25_us']:+.1f}, {d['cycle_p75_us']:+.1f}]"


def main(argv: list[str] | None = None) -> int:
    import warnings

    p = argparse.ArgumentParser(prog="python -m bench.hotpath", description=__doc__)
    p.add_argument("--rounds", type=int, default=7, help="with --iterations: the budget")
    p.add_argument(
        "--iterations",
        type=int,
        default=300,
        help="timed calls per contender: rounds x iterations, in chunks of --chunk",
    )
    p.add_argument("--chunk", type=int, default=20, help="timed calls per contender per turn")
    p.add_argument("--settle", type=int, default=5, help="untimed calls opening each turn")
    p.add_argument("--cold-runs", type=int, default=5)
    p.add_argument("--store")
    p.add_argument(
        "--baseline",
        metavar="REV",
        help="also time commit REV's handler on the same events in each session (bench.baseline)",
    )
    p.add_argument("--out", default=str(REPO / "docs" / "hotpath.md"))
    p.add_argument("--json", default=str(REPO / "bench" / "results" / "hotpath.json"))
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")  # powertools warns on re-adding default dimensions
    from bench.report import conditions
    from model_store.backends.local import LocalStore

    store = str(LocalStore(args.store).root.resolve())
    ms = models.ensure(store)
    before = conditions("before")
    budget = Budget.of(args.rounds, args.iterations, args.chunk, args.settle)
    results: dict[str, Any] = {"rounds": args.rounds, "iterations": args.iterations}
    results |= {"chunk": budget.chunk, "settle": budget.settle, "cycles": budget.cycles}
    results["warm"], results["targets"], results["before_after"] = {}, [], []
    if args.baseline:
        from bench import baseline

        results["baseline"] = baseline.describe(args.baseline)
    progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    with inprocess.quiet_stdout():
        for m in ms:
            results["warm"][m.label] = {}
            sessions: dict[int, inprocess.Interleaved] = {}
            for batch in BATCHES:
                progress(f"warm: {m.label}, batch {batch}")
                calls = contenders(m, batch, store, args.baseline)
                sessions[batch] = interleaved(calls, budget)
                results["warm"][m.label][str(batch)] = summaries(sessions[batch])
            if args.baseline:
                for batch in BATCHES:
                    for name in ("slipway handler", "slipway OIP binary"):
                        paired = sessions[batch].ratio(name, BEFORE + name)
                        results["before_after"].append(
                            {"model": m.label, "batch": batch, "contender": name}
                            | {"before_us": sessions[batch].summary(BEFORE + name)["median_us"]}
                            | {"after_us": sessions[batch].summary(name)["median_us"]}
                            | paired
                        )
            for what, name, against, batch, limit in TARGETS:
                ratio = sessions[batch].ratio(name, against, limit)
                results["targets"].append(
                    {"model": m.label, "what": what, "against": against}
                    | ratio
                    # Met on the paired (per-cycle) ratio: see the module's docstring.
                    | {"limit": limit, "met": ratio["cycle_median"] <= limit}
                )
        progress("layers")
        results["layers"] = {str(b): layers(ms[0], b, store, budget) for b in BATCHES}
        results["after_run"] = after_run(ms[0], store, budget)
        progress("profiles")
        results["profiles"] = profiles(ms[0], store, max(300, args.iterations))
    progress("cold starts")
    results["cold"] = cold(ms[0], store, args.cold_runs)
    after = conditions("after")
    results["conditions"] = " ".join(
        f"{k}: {v};" for k, v in {**before, **after}.items() if not isinstance(v, dict)
    )
    out, js = Path(args.out), Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps(results, indent=2) + "\n")
    out.write_text(markdown(results))
    for row in results["targets"]:
        progress(
            f"{row['model']}: {row['what']}: {row['ratio']:.2f} (per cycle "
            f"{row['cycle_p25']:.2f}-{row['cycle_p75']:.2f}, ≤ {row['limit']})"
        )
    progress(f"wrote {out} and {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
