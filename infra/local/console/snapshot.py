"""What the console shows, as one JSON-able dict, from what the gateway already holds.

Versions and aliases from the state file, environments from the pool (their REPORT fields:
Init Duration, Max Memory Used), requests from the console's own per-second buckets, the
canary's step from the release's progress file, and the tail of the function log.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from functions.predict.config import STORE
from functions.predict.messages import clip
from infra.local.console.metrics import RATE_S, WINDOW_S, Recent
from infra.local.gateway.server import LocalPlatform
from infra.local.runtime.environment import Environment
from infra.local.state import progress
from infra.local.state.store import State, Version
from model_store.backends.local import LocalStore
from model_store.manifest import parse_ref

LOG_LINES = 40  # the function log's last lines shown
LOG_TAIL_BYTES = 64 * 1024  # read from the end of the log at most
LOG_LINE_CHARS = 400  # each line clipped to this


def example_request(version: Version) -> Any:
    """The example request of the model the version pins (its manifest's), or None."""
    return live_model(version)["example"]


def live_model(version: Version) -> dict[str, Any]:
    """What the try-it form needs of the model the version pins: its example request and the
    kind of content it takes ("image", "text", or None for tensors)."""
    if not version.model:
        return {"example": None, "input": None}
    name, number = parse_ref(version.model)
    manifest = LocalStore(version.env.get(STORE)).manifest(name, number)
    kind = (manifest.processing or {}).get("input", {}).get("kind")
    return {"example": manifest.example, "input": kind}


def environment_state(env: Environment) -> str:
    if env.dead:
        return "stopping"
    if env.init_ms is None:
        return "initialising"
    return "busy" if env.busy else "idle"


def environments(envs: Iterable[Environment], now_monotonic: float) -> list[dict[str, Any]]:
    out = []
    for env in envs:
        state = environment_state(env)
        out.append(
            {
                "id": env.id,
                "version": env.version.number,
                "state": state,
                "init_ms": None if env.init_ms is None else round(env.init_ms, 2),
                "max_memory_mb": env.max_memory_mb(),
                "memory_mb": env.version.memory_mb,
                "idle_s": round(now_monotonic - env.last_used, 1) if state == "idle" else None,
            }
        )
    return sorted(out, key=lambda e: (e["version"], e["id"]))


def log_tail(path: Path, lines: int = LOG_LINES) -> list[str]:
    """The last lines of the function log, each clipped (a line may be 256 KB)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - LOG_TAIL_BYTES))
            data = fh.read()
    except OSError:
        return []
    text = data.decode(errors="replace").splitlines()
    if len(data) == LOG_TAIL_BYTES and text:
        text = text[1:]  # the first may be a partial line
    return [clip(line, LOG_LINE_CHARS) for line in text[-lines:]]


def canary(state: State, found: progress.Progress | None, now: float) -> list[dict[str, Any]]:
    """Each alias routing to two versions; the release's step and time left when one runs."""
    out = []
    for alias in sorted(state.aliases.values(), key=lambda a: a.name):
        if alias.canary is None:
            continue
        item: dict[str, Any] = {
            "alias": alias.name,
            "version": alias.version,
            "canary": alias.canary,
            "weight": alias.weight,
            "release": None,
        }
        if (
            found is not None
            and (found.alias, found.version, found.canary)
            == (alias.name, alias.version, alias.canary)
            and abs(found.weight - alias.weight) < 1e-9
        ):
            item["release"] = {
                "step": found.step,
                "steps": found.steps,
                "wait_s": found.wait_s,
                "left_s": round(found.left_s(now), 1),
            }
        out.append(item)
    return out


def build(platform: LocalPlatform, recent: Recent, examples: dict[int, Any]) -> dict[str, Any]:
    """The whole snapshot; `examples` caches each version's live_model."""
    state = platform.state()
    now = time.time()
    live = state.aliases.get("live")
    model: dict[str, Any] = {"example": None, "input": None}
    if live is not None:
        if live.version not in examples:
            try:
                examples[live.version] = live_model(state.versions[live.version])
            except (OSError, ValueError, KeyError) as exc:  # a store moved away: say so
                note = {"note": f"no example request: {clip(str(exc))}"}
                examples[live.version] = {"example": note, "input": None}
        model = examples[live.version]
    pool = platform.pool
    return {
        "now": now,
        "function": state.function,
        "url": platform.url,
        "expose": list(platform.expose),
        "versions": [
            {
                "number": n,
                "model": v.model,
                "sha256": v.model_sha256,
                "description": v.description,
                "created_at": v.created_at,
                "memory_mb": v.memory_mb,
            }
            for n, v in sorted(state.versions.items())
        ],
        "aliases": [
            {
                "name": a.name,
                "version": a.version,
                "canary": a.canary,
                "weight": a.weight,
                "revision": a.revision,
            }
            for a in sorted(state.aliases.values(), key=lambda a: a.name)
        ],
        "canaries": canary(state, progress.read(platform.state_dir), now),
        "traffic": {"window_s": WINDOW_S, "rate_s": RATE_S, "versions": recent.summary()},
        "pool": {"concurrency": pool.concurrency, "peak": pool.peak},
        "environments": environments(pool.envs, time.monotonic()),
        "log": log_tail(platform.function_log.path),
        "example": model["example"],
        "input": model["input"],  # the live model's content: the try-it form takes files
    }
