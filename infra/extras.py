"""Which of slipway's optional extras brings a missing package, read from slipway's own metadata.

`make serve` installs only what serving the example needs; a command that needs more (boto3
for `--target aws`, Locust, torch…) then fails on an import. The CLI turns that into one line
naming the extra to install, instead of a traceback. The extras themselves are defined once,
in pyproject.toml's `[project.optional-dependencies]`; this reads them as pip recorded them
(`Requires-Dist: boto3>=1.34; extra == "aws"`).
"""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "slipway"

# Import names whose distribution is called something else (the rest are the same, `_` as `-`).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "google": ("google-cloud-run", "google-cloud-monitoring"),
    "sklearn": ("scikit-learn",),
    "xgboost": ("xgboost-cpu", "xgboost"),
    "yaml": ("pyyaml",),
    "serverless_wsgi": ("serverless-wsgi",),
    "aws_xray_sdk": ("aws-xray-sdk",),
}

_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extras_by_distribution() -> dict[str, list[str]]:
    """{distribution: [extras that require it]}, self-references (`slipway[sklearn]`) resolved."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return {}
    members: dict[str, set[str]] = {}
    for line in requires:
        name, marker = _NAME.match(line), _EXTRA.search(line)
        if name and marker:
            members.setdefault(marker.group(1), set()).add(line)
    out: dict[str, list[str]] = {}
    for extra, lines in members.items():
        for dist in _expand(lines, members, seen={extra}):
            out.setdefault(dist, []).append(extra)
    return out


def _expand(lines: set[str], members: dict[str, set[str]], seen: set[str]) -> set[str]:
    dists: set[str] = set()
    for line in lines:
        match = _NAME.match(line)
        assert match is not None  # extras_by_distribution kept only lines that have a name
        name = _normal(match.group(1))
        nested = re.match(rf"\s*{DISTRIBUTION}\s*\[([^\]]+)\]", line)
        if name == DISTRIBUTION and nested:
            for inner in (e.strip() for e in nested.group(1).split(",")):
                if inner not in seen:
                    dists |= _expand(members.get(inner, set()), members, seen | {inner})
        else:
            dists.add(name)
    return dists


def extra_for(module: str) -> tuple[str, str] | None:
    """(the smallest extra that installs the top-level package `module`, its distribution)."""
    top = module.split(".")[0]
    by_dist = extras_by_distribution()
    sizes: dict[str, int] = {}
    for extras in by_dist.values():
        for extra in extras:
            sizes[extra] = sizes.get(extra, 0) + 1
    found = [
        (extra, dist)
        for dist in DISTRIBUTIONS.get(top, (top,))
        for extra in by_dist.get(_normal(dist), [])
    ]
    return min(found, key=lambda f: (sizes[f[0]], f[0])) if found else None


def missing_hint(exc: ModuleNotFoundError) -> str | None:
    """`boto3 is not installed: pip install -e '.[aws]'` when an extra provides the module."""
    found = extra_for(exc.name) if exc.name else None
    if found is None:
        return None
    extra, dist = found
    return f"{dist} is not installed: pip install -e '.[{extra}]'"
