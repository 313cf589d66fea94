"""Size report of the built zips against Lambda's limits, and the refusal when over one.

Everything here reads a finished zip, so a cached layer gets the same report as a new one.
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.build.exceptions import LimitExceeded

MB = 1024 * 1024
# Lambda quotas: function code plus all layers, unzipped; and one zip uploaded directly.
UNZIPPED_LIMIT = 250 * MB
ZIPPED_LIMIT = 50 * MB
LAYER_ROOT = "python/"


@dataclass(frozen=True)
class Limits:
    unzipped: int = UNZIPPED_LIMIT
    zipped: int = ZIPPED_LIMIT


def _dist_of_records(zf: zipfile.ZipFile, root: str) -> dict[str, str]:
    """File path -> distribution "name version", from each *.dist-info/RECORD in the zip."""
    owner: dict[str, str] = {}
    for name in zf.namelist():
        if not name.endswith(".dist-info/RECORD") or name.count("/") != root.count("/") + 1:
            continue
        dist, _, version = name[len(root) :].split("/")[0].removesuffix(".dist-info").partition("-")
        for line in zf.read(name).decode("utf-8", "replace").splitlines():
            path = line.rsplit(",", 2)[0] if line else ""
            if path and not path.startswith(".."):
                owner[root + path] = f"{dist} {version}"
    return owner


def package_sizes(zip_path: Path, root: str = "") -> list[dict[str, Any]]:
    """Per package (distribution, or top-level directory): files, unzipped and zipped bytes."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    with zipfile.ZipFile(zip_path) as zf:
        owner = _dist_of_records(zf, root)
        for info in zf.infolist():
            top = info.filename[len(root) :].split("/")[0]
            if top.endswith(".dist-info"):  # the metadata belongs to its distribution
                top = top.removesuffix(".dist-info").replace("-", " ", 1)
            key = owner.get(info.filename) or top
            row = totals[key]
            row[0] += 1
            row[1] += info.file_size
            row[2] += info.compress_size
    rows = [
        {"package": k, "files": v[0], "unzipped": v[1], "zipped": v[2]} for k, v in totals.items()
    ]
    return sorted(rows, key=lambda r: (-r["unzipped"], r["package"]))


def zip_summary(zip_path: Path, sha256: str, root: str = "") -> dict[str, Any]:
    packages = package_sizes(zip_path, root)
    return {
        "path": str(zip_path),
        "sha256": sha256,
        "zipped": zip_path.stat().st_size,
        "unzipped": sum(p["unzipped"] for p in packages),
        "packages": packages,
    }


def size_report(
    target: Mapping[str, str], function: dict[str, Any], layer: dict[str, Any], limits: Limits
) -> dict[str, Any]:
    unzipped = function["unzipped"] + layer["unzipped"]
    over = []
    if unzipped > limits.unzipped:
        over.append(f"unzipped function + layer {mb(unzipped)} > {mb(limits.unzipped)}")
    for label, part in (("function.zip", function), ("layer.zip", layer)):
        if part["zipped"] > limits.zipped:
            over.append(f"{label} {mb(part['zipped'])} zipped > {mb(limits.zipped)}")
    return {
        "target": dict(target),
        "limits": {"unzipped": limits.unzipped, "zipped": limits.zipped},
        "function": function,
        "layer": layer,
        "total": {"unzipped": unzipped, "zipped": function["zipped"] + layer["zipped"]},
        "over_limits": over,
    }


def mb(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB // 10 else f"{n / 1024:.1f} kB"


def biggest(report: Mapping[str, Any], n: int = 5) -> list[dict[str, Any]]:
    rows = [dict(r, part=part) for part in ("layer", "function") for r in report[part]["packages"]]
    return sorted(rows, key=lambda r: -r["unzipped"])[:n]


def check_limits(report: Mapping[str, Any]) -> None:
    """Raise LimitExceeded naming the biggest contributors when the report is over a limit."""
    if not report["over_limits"]:
        return
    top = ", ".join(
        f"{r['package']} ({mb(r['unzipped'])} unzipped, {mb(r['zipped'])} zipped)"
        for r in biggest(report)
    )
    raise LimitExceeded(
        f"over Lambda's limits: {'; '.join(report['over_limits'])}. Biggest contributors: {top}. "
        "Trim [project].dependencies in pyproject.toml (then `slipway lock`) or ship a "
        "container image instead; nothing was deployed"
    )


def format_report(report: Mapping[str, Any], top: int = 12) -> str:
    t = report["target"]
    lines = [f"slipway build: python{t['python']} {t['arch']}", ""]
    lines.append(f"{'package':<44} {'unzipped':>12} {'zipped':>12}")
    for part in ("layer", "function"):
        rows = report[part]["packages"]
        lines.append(f"{part} ({report[part]['path']}, sha256 {report[part]['sha256'][:16]}…)")
        for r in rows[:top]:
            lines.append(f"  {r['package']:<42} {mb(r['unzipped']):>12} {mb(r['zipped']):>12}")
        rest = rows[top:]
        if rest:
            u, z = sum(r["unzipped"] for r in rest), sum(r["zipped"] for r in rest)
            lines.append(f"  {f'({len(rest)} more)':<42} {mb(u):>12} {mb(z):>12}")
        lines.append(
            f"  {'= ' + part:<42} {mb(report[part]['unzipped']):>12} {mb(report[part]['zipped']):>12}"
        )
    lim, tot = report["limits"], report["total"]
    lines.append("")
    lines.append(
        f"total unzipped {mb(tot['unzipped'])} of {mb(lim['unzipped'])} "
        f"({100 * tot['unzipped'] / lim['unzipped']:.0f}%); largest zip "
        f"{mb(max(report['function']['zipped'], report['layer']['zipped']))} of "
        f"{mb(lim['zipped'])} direct upload"
    )
    lines.append("OVER: " + "; ".join(report["over_limits"]) if report["over_limits"] else "OK")
    return "\n".join(lines)
