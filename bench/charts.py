"""The benchmark chart (docs/benchmarks.png) with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

_SHORT = {
    "floor (onnxruntime + numpy, load, run once)": "floor",
    "Slipway handler from the source tree": "Slipway from source tree",
}


def _bars(
    ax: Any, groups: list[str], series: list[str], value: Callable[[str, int], float]
) -> None:
    """Grouped bars: one group per label in `groups`, one bar per series (value(series, i))."""
    width = 0.8 / max(1, len(series))
    for i, name in enumerate(series):
        xs = [g + i * width for g in range(len(groups))]
        ax.bar(
            xs, [value(name, g) for g in range(len(groups))], width, label=_SHORT.get(name, name)
        )
    ax.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], groups)
    if series:
        ax.legend(fontsize=8)


def _get(row: Any, key: str) -> float:
    return float(row[key]) if isinstance(row, dict) else 0.0  # 0: not available


def suite_chart(results: Mapping[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (warm_ax, cold_ax, http_ax) = plt.subplots(1, 3, figsize=(16, 5))

    warm = results["warm"]
    cells = [(m, b) for m, per in warm.items() for b in per]
    contenders = list(dict.fromkeys(c for m, b in cells for c in warm[m][b]))
    labels = [f"{m.split(' ')[0]}\nbatch {b}" for m, b in cells]
    _bars(
        warm_ax,
        labels,
        contenders,
        lambda c, g: _get(warm[cells[g][0]][cells[g][1]].get(c), "median_us"),
    )
    warm_ax.set_yscale("log")
    warm_ax.set_ylabel("median latency per call (µs, log)")
    warm_ax.set_title("Warm, in process")

    cold = results["cold"]
    models = list(cold)
    variants = list(dict.fromkeys(v for per in cold.values() for v in per))
    _bars(
        cold_ax,
        [m.split(" ")[0] for m in models],
        variants,
        lambda v, g: _get(cold[models[g]].get(v), "wall_ms"),
    )
    cold_ax.set_ylabel("fresh process, spawn to exit (ms, median)")
    cold_ax.set_title("Cold start (0: not available)")

    http = results["http"]
    names = [n for n, per in http.items() if any(isinstance(v, dict) for v in per.values())]
    batches = sorted({b for per in http.values() for b in per}, key=int)
    _bars(
        http_ax,
        [f"batch {b}" for b in batches],
        names,
        lambda n, g: _get(http[n].get(batches[g]), "rps"),
    )
    http_ax.set_ylabel("requests/s at 8 concurrent users")
    http_ax.set_title("Over HTTP(S), example model")

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
