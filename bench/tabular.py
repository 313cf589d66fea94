"""Tabular models (issue 16) against the digits example: cold start and warm latency.

    .venv/bin/python -m bench.tabular [--runs 7] [--iterations 300] [--artifact] [--store DIR]

Three models, each registered into the store (a temporary one by default) by this module:
the digits example (`slipway example`), a 200-tree XGBoost classifier (breast-cancer data,
binary: 200 trees) and a DataFrame pipeline (ColumnTransformer: numeric columns scaled, a
string column one-hot encoded; logistic regression; one ONNX input per column), which is sent
`{"instances": [...]}` row records. Cold: fresh `python -S` processes that import the handler,
load the model and answer once (bench/coldstart.py); warm: the handler in process, batch 1 and
64, timed by bench/inprocess.time_call. Writes bench/results/tabular.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import coldstart, inprocess
from bench.artifact import HANDLER, unpack_built

REPO = Path(__file__).resolve().parents[1]
XGB_TREES = 200
SEED = 0
BATCHES = (1, 64)
RUNTIME = ("functions.predict.runtime",)  # imported before the handler: imports vs model load


@dataclass(frozen=True)
class Tabular:
    label: str
    ref: str
    bodies: dict[int, bytes]  # batch -> POST /predict body


def _bodies(make: Any) -> dict[int, bytes]:
    import orjson

    return {batch: orjson.dumps(make(batch)) for batch in BATCHES}


def _cycle(rows: Any, batch: int) -> Any:
    return rows[np.arange(batch) % len(rows)]


def ensure(store_root: str) -> list[Tabular]:
    """Register the three models (idempotently: identical bytes are recognised)."""
    import xgboost as xgb
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from model_store.backends.local import LocalStore
    from model_store.convert import convert
    from model_store.example import build_and_register

    store = LocalStore(store_root)
    digits, _, _ = build_and_register(store)
    digit_rows = np.asarray(digits.example["inputs"] if digits.example else [[0.0] * 64])

    x, y = load_breast_cancer(return_X_y=True)
    booster = xgb.XGBClassifier(n_estimators=XGB_TREES, max_depth=6, random_state=SEED)
    booster.fit(x[:-100], y[:-100])
    held = x[-100:]
    converted = convert(
        booster, held, name="cancer-xgb200", description=f"bench: {XGB_TREES}-tree XGBoost"
    )
    xgb_manifest, _ = store.register(converted.data, converted.manifest)

    frame = load_diabetes(as_frame=True).frame
    target = (frame.pop("target") > 140).astype(int)
    frame["sex"] = np.where(frame["sex"] > 0, "male", "female")
    numeric = [c for c in frame.columns if c != "sex"]
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ]
    )
    pipeline = Pipeline([("prep", prep), ("clf", LogisticRegression())])
    pipeline.fit(frame.iloc[:-100], target.iloc[:-100])
    rows = frame.iloc[-100:]
    converted = convert(pipeline, rows, name="diabetes-frame", description="bench: DataFrame")
    frame_manifest, _ = store.register(converted.data, converted.manifest)
    records = rows.to_dict(orient="records")

    return [
        Tabular(
            "digits example (logistic, 64 inputs)",
            digits.ref,
            _bodies(lambda b: {"inputs": _cycle(digit_rows, b).tolist()}),
        ),
        Tabular(
            f"XGBoost, {XGB_TREES} trees (30 inputs)",
            xgb_manifest.ref,
            _bodies(lambda b: {"inputs": _cycle(held, b).tolist()}),
        ),
        Tabular(
            "DataFrame pipeline (10 columns, instances)",
            frame_manifest.ref,
            _bodies(lambda b: {"instances": [records[i % len(records)] for i in range(b)]}),
        ),
    ]


def warm(models: list[Tabular], store: str, n: int) -> dict[str, Any]:
    from functions.predict.runtime import build

    out: dict[str, Any] = {}
    ctx = inprocess.context()
    with inprocess.quiet_stdout():
        for m in models:
            fn = build({"SLIPWAY_MODEL": m.ref, "SLIPWAY_STORE": store})
            out[m.label] = {}
            for batch, payload in m.bodies.items():
                event = inprocess.v2_event(payload)
                timing = inprocess.time_call(inprocess.served(fn, event, ctx), n)
                out[m.label][str(batch)] = timing.__dict__
    return out


def cold(models: list[Tabular], store: str, runs: int, paths: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in models:
        event = inprocess.v2_event(m.bodies[1])
        env = coldstart.base_env({"SLIPWAY_MODEL": m.ref, "SLIPWAY_STORE": store})
        script = coldstart.handler_script(paths, HANDLER, event, RUNTIME)
        out[m.label] = coldstart.measure(script, env, runs).to_dict()
    return out


def table(results: dict[str, Any]) -> str:
    lines = [
        f"cold start ({results['cold_variant']}, median of {results['runs']} fresh processes) "
        f"and warm latency (handler in process, p50/p99 of {results['iterations']} calls)",
        "",
        "| model | cold wall ms | init ms | first answer ms | max RSS MB "
        "| warm b=1 p50/p99 µs | warm b=64 p50/p99 µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, c in results["cold"].items():
        w = results["warm"][label]
        warm_cells = [f"{w[str(b)]['median_us']:.0f} / {w[str(b)]['p99_us']:.0f}" for b in BATCHES]
        lines.append(
            f"| {label} | {c['wall_ms']:.0f} | {c['init_ms']:.0f} | {c['first_ms']:.2f} "
            f"| {c['max_rss_mb']:.0f} | {' | '.join(warm_cells)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.tabular", description=__doc__)
    p.add_argument("--runs", type=int, default=7, help="fresh processes per cold start")
    p.add_argument("--iterations", type=int, default=300, help="timed calls per warm case")
    p.add_argument("--artifact", action="store_true", help="cold start the built artifact")
    p.add_argument("--store", help="model store (default: a temporary directory)")
    p.add_argument("--json", default=str(REPO / "bench" / "results" / "tabular.json"))
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="bench-tabular-") as tmp:
        store = str(Path(args.store or Path(tmp) / "store").resolve())
        models = ensure(store)
        print("warm, in process…", flush=True)
        results: dict[str, Any] = {"runs": args.runs, "iterations": args.iterations}
        results["warm"] = warm(models, store, args.iterations)
        print("cold start, fresh processes…", flush=True)
        if args.artifact:
            paths = unpack_built(Path(tmp) / "artifact")
            results["cold_variant"] = "built artifact"
        else:
            paths = [str(REPO), *coldstart.site_packages()]
            results["cold_variant"] = "handler from the source tree"
        results["cold"] = cold(models, store, args.runs, paths)
        results["models"] = {m.label: m.ref for m in models}
    js = Path(args.json)
    js.parent.mkdir(parents=True, exist_ok=True)
    js.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"wrote {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
