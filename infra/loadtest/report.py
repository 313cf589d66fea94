"""A load test's report: JSON (everything), Markdown (for humans) and PNG charts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.loadtest import charts, stats
from infra.loadtest.config import LoadTestConfig


def build(
    cfg: LoadTestConfig, records: Sequence[stats.Record], model: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    return {
        "url": cfg.host.rstrip("/") + cfg.path,
        "settings": {
            "users": cfg.users,
            "spawn_rate": cfg.spawn_rate or cfg.users,
            "duration_s": cfg.duration_s,
            "max_requests": cfg.max_requests,
            "batch": cfg.batch,
        },
        "model": dict(model) if model else None,
        "overall": stats.summarize(records).to_dict(),
        "by_version": {v: s.to_dict() for v, s in stats.by_version(records).items()},
        "errors": stats.error_kinds(records),
    }


_COLUMNS = ("requests", "ok", "errors", "throttles", "rps", "p50_ms", "p90_ms", "p99_ms")


def markdown(report: Mapping[str, Any], chart_names: Sequence[str]) -> str:
    s = report["settings"]
    lines = [
        f"# Load test of {report['url']}",
        "",
        f"{s['users']} users (spawn rate {s['spawn_rate']}/s), batch {s['batch']}, "
        f"at most {s['duration_s']} s"
        + (f" or {s['max_requests']} requests" if s["max_requests"] else "")
        + ".",
        "",
        "| model version | " + " | ".join(_COLUMNS) + " |",
        "| --- |" + " --- |" * len(_COLUMNS),
    ]
    rows = [("all", report["overall"]), *report["by_version"].items()]
    for name, summary in rows:
        lines.append(f"| {name} | " + " | ".join(str(summary[c]) for c in _COLUMNS) + " |")
    if report["errors"]:
        lines += ["", "Failures: " + ", ".join(f"{k}: {n}" for k, n in report["errors"].items())]
    lines += ["", *(f"![{name}]({name})" for name in chart_names), ""]
    return "\n".join(lines)


def write(
    out_dir: Path, cfg: LoadTestConfig, records: Sequence[stats.Record], model: Any
) -> dict[str, Path]:
    """Write loadtest.json, loadtest.md and three PNG charts into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = build(cfg, records, model)
    title = f"{data['url']} ({cfg.users} users, batch {cfg.batch})"
    paths = {
        "latency_over_time": charts.latency_over_time(
            records, out_dir / "latency_over_time.png", title
        ),
        "latency_histogram": charts.latency_histogram(
            records, out_dir / "latency_histogram.png", title
        ),
        "version_split": charts.version_split(
            stats.by_version(records), out_dir / "version_split.png", title
        ),
    }
    (out_dir / "loadtest.json").write_text(json.dumps(data, indent=2) + "\n")
    md = markdown(data, [p.name for p in paths.values()])
    (out_dir / "loadtest.md").write_text(md)
    return {"json": out_dir / "loadtest.json", "markdown": out_dir / "loadtest.md", **paths}
