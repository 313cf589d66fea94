"""PNG charts of a load test with matplotlib (Agg: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.loadtest.stats import Record, Summary


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _by_version(records: Sequence[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for r in records:
        groups.setdefault(r.version, []).append(r)
    return dict(sorted(groups.items()))


def latency_over_time(records: Sequence[Record], path: Path, title: str) -> Path:
    plt = _pyplot()
    t0 = min(r.started for r in records)
    fig, ax = plt.subplots(figsize=(8, 4))
    for version, rs in _by_version(records).items():
        ax.scatter(
            [r.started - t0 for r in rs], [r.ms for r in rs], s=4, alpha=0.5, label=f"v{version}"
        )
    bad = [r for r in records if not r.ok]
    if bad:
        ax.scatter([r.started - t0 for r in bad], [r.ms for r in bad], s=12, c="red", marker="x")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("latency (ms)")
    ax.set_title(title)
    ax.legend(title="model version", loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def latency_histogram(records: Sequence[Record], path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    groups = _by_version(records)
    ax.hist(
        [[r.ms for r in rs] for rs in groups.values()],
        bins=50,
        stacked=True,
        label=[f"v{v}" for v in groups],
    )
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("requests")
    ax.set_title(title)
    ax.legend(title="model version")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def version_split(summaries: Mapping[str, Summary], path: Path, title: str) -> Path:
    plt = _pyplot()
    versions = list(summaries)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    width = 0.25
    for i, (label, attr) in enumerate((("p50", "p50_ms"), ("p90", "p90_ms"), ("p99", "p99_ms"))):
        left.bar(
            [x + (i - 1) * width for x in range(len(versions))],
            [getattr(summaries[v], attr) for v in versions],
            width,
            label=label,
        )
    left.set_xticks(range(len(versions)), [f"v{v}" for v in versions])
    left.set_ylabel("latency (ms)")
    left.legend()
    right.bar([f"v{v}" for v in versions], [summaries[v].requests for v in versions])
    right.set_ylabel("requests")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
