"""The benchmark chart (docs/benchmarks.png) with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

_SHORT = {
    "floor (onnxruntime + numpy, load, run once)": "floor",
    "Slipway built artifact": "Slipway built artifact",
    "Slipway handler from the source tree": "Slipway from source tree",
    "naive FastAPI+Mangum": "naive FastAPI+Mangum",
}


def suite_chart(results: Mapping[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (warm_ax, cold_ax, http_ax) = plt.subplots(1, 3, figsize=(16, 5))

    groups = [(m, b) for m, per in results["warm"].items() for b in per]
    contenders = list(dict.fromkeys(c for m, b in groups for c in results["warm"][m][b]))
    width = 0.8 / max(1, len(contenders))
    for i, name in enumerate(contenders):
        values = [results["warm"][m][b].get(name, {}).get("median_us", 0) for m, b in groups]
        warm_ax.bar([g + i * width for g in range(len(groups))], values, width, label=name)
    warm_ax.set_xticks(
        [g + width * (len(contenders) - 1) / 2 for g in range(len(groups))],
        [f"{m.split(' ')[0]}\nbatch {b}" for m, b in groups],
    )
    warm_ax.set_yscale("log")
    warm_ax.set_ylabel("median latency per call (µs, log)")
    warm_ax.set_title("Warm, in process")
    warm_ax.legend(fontsize=8)

    cold = results["cold"]
    cold_models = list(cold)
    variants = list(dict.fromkeys(v for per in cold.values() for v in per))
    width = 0.8 / max(1, len(variants))
    for i, variant in enumerate(variants):
        values = [
            cold[m][variant]["wall_ms"] if isinstance(cold[m].get(variant), dict) else 0
            for m in cold_models
        ]
        cold_ax.bar(
            [g + i * width for g in range(len(cold_models))],
            values,
            width,
            label=_SHORT.get(variant, variant),
        )
    cold_ax.set_xticks(
        [g + width * (len(variants) - 1) / 2 for g in range(len(cold_models))],
        [m.split(" ")[0] for m in cold_models],
    )
    cold_ax.set_ylabel("fresh process, spawn to exit (ms, median)")
    cold_ax.set_title("Cold start (0: not available)")
    cold_ax.legend(fontsize=8)

    http = results["http"]
    names = [n for n, per in http.items() if any(isinstance(v, dict) for v in per.values())]
    batches = sorted({int(b) for per in http.values() for b in per})
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        rps = [
            http[name].get(str(b), {}).get("rps", 0)
            if isinstance(http[name].get(str(b)), dict)
            else 0
            for b in batches
        ]
        http_ax.bar([x + i * width for x in range(len(batches))], rps, width, label=name)
    http_ax.set_xticks(
        [x + width * (len(names) - 1) / 2 for x in range(len(batches))],
        [f"batch {b}" for b in batches],
    )
    http_ax.set_ylabel("requests/s at 8 concurrent users")
    http_ax.set_title("Over HTTP(S), example model")
    if names:
        http_ax.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
