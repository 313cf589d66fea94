"""Cold start: a fresh interpreter that imports, loads the model and answers once.

Every variant runs as `python -S` (no site: only the sys.path each script sets), so the
built artifact sees just its function code and layer, as on Lambda, and the floor and the
naive app see only the virtualenv's site-packages. The time is the whole process, spawn to
exit, measured here; the script also reports its own import/init and first-call times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.loadtest.stats import percentile

REPO = Path(__file__).resolve().parents[1]

# t0 is CLOCK_MONOTONIC, system-wide, so the parent can subtract its spawn time from it.
_PRELUDE = """
import sys, time, json
t0 = time.monotonic()
sys.path[:0] = {paths!r}
"""
_REPORT = """
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"start": t0, "imports_ms": (ti - t0) * 1e3, "init_ms": (t1 - t0) * 1e3,
                  "first_ms": (t2 - t1) * 1e3, "hwm_kb": int(hwm)}}))
"""

FLOOR = (
    _PRELUDE
    + """
import numpy as np
import onnxruntime as ort
ti = time.monotonic()
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1  # as the function runs it, so the floor is not slowed by a pool
sess = ort.InferenceSession({model!r}, opts, providers=["CPUExecutionProvider"])
t1 = time.monotonic()
x = np.asarray(json.loads({body!r})["inputs"], dtype=np.float32)
sess.run(None, {{sess.get_inputs()[0].name: x}})
t2 = time.monotonic()
"""
    + _REPORT
)

# Imports are the handler's runtime module (no model yet); the handler's import loads the model.
HANDLER = (
    _PRELUDE
    + """
import importlib
for name in {preload!r}:
    importlib.import_module(name)
ti = time.monotonic()
module, _, attr = {handler!r}.rpartition(".")
handler = getattr(importlib.import_module(module), attr)
t1 = time.monotonic()
response = handler(json.loads({event!r}), None)
t2 = time.monotonic()
assert response["statusCode"] == 200, response
"""
    + _REPORT
)

NAIVE = (
    _PRELUDE
    + """
from bench.naive_app import create_handler
ti = time.monotonic()
handler = create_handler({model!r})
t1 = time.monotonic()
response = handler(json.loads({event!r}), None)
t2 = time.monotonic()
assert response["statusCode"] == 200, response
"""
    + _REPORT
)


@dataclass(frozen=True)
class ColdStart:
    wall_ms: float  # median, spawn to exit
    init_ms: float  # median, in-process: imports and model load
    first_ms: float  # median, in-process: first answer
    max_rss_mb: float  # largest of the runs
    runs: int
    interpreter_ms: float | None = None  # median, spawn to the script's first line
    imports_ms: float | None = None  # median, the part of init before the model loads

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def site_packages() -> list[str]:
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(paths)


def run_once(script: str, env: dict[str, str]) -> dict[str, float]:
    """Numbers of one fresh `python -S` process: wall_ms and rss_mb, and the script's own."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", script],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status = os.waitpid(proc.pid, 0)
    wall = (time.monotonic() - start) * 1000.0
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start script failed ({proc.returncode}): {err[-1500:]}")
    numbers: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    numbers["wall_ms"] = wall
    if "start" in numbers:
        numbers["interpreter_ms"] = (numbers.pop("start") - start) * 1000.0
    # The process's own peak RSS (VmHWM): wait4's ru_maxrss would include the parent's at fork.
    numbers["rss_mb"] = numbers["hwm_kb"] / 1024.0
    return numbers


def _median(rows: list[dict[str, float]], key: str, digits: int) -> float | None:
    values = sorted(r[key] for r in rows if key in r)
    return round(percentile(values, 50), digits) if values else None


def _summary(rows: list[dict[str, float]]) -> ColdStart:
    return ColdStart(
        _median(rows, "wall_ms", 1) or 0.0,
        _median(rows, "init_ms", 1) or 0.0,
        _median(rows, "first_ms", 2) or 0.0,
        round(max(r["rss_mb"] for r in rows), 1),
        len(rows),
        _median(rows, "interpreter_ms", 1),
        _median(rows, "imports_ms", 1),
    )


def measure(script: str, env: dict[str, str], runs: int) -> ColdStart:
    """Median over `runs` fresh processes, after one unmeasured run that warms the file cache."""
    run_once(script, env)
    return _summary([run_once(script, env) for _ in range(runs)])


def measure_interleaved(
    scripts: dict[str, str], env: dict[str, str], runs: int
) -> dict[str, dict[str, Any] | str]:
    """Like `measure` for several scripts, taking turns run by run so that a burst of other
    load on the machine hits every variant alike. A failing script gives its reason."""
    out: dict[str, dict[str, Any] | str] = {}
    samples: dict[str, list[dict[str, float]]] = {k: [] for k in scripts}
    for round_ in range(runs + 1):  # round 0 warms the file cache and is not kept
        for name, script in scripts.items():
            if name in out:
                continue
            try:
                sample = run_once(script, env)
            except RuntimeError as exc:
                out[name] = f"not available: {exc}"
                continue
            if round_:
                samples[name].append(sample)
    return {name: out.get(name) or _summary(samples[name]).to_dict() for name in scripts}


def base_env(extra: dict[str, str]) -> dict[str, str]:
    # Only what a Lambda environment would have; no PYTHONPATH or virtualenv leaking in.
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SLIPWAY_METRICS": "on"}
    env.update(extra)
    return env


def floor_script(model_path: Path, body: bytes) -> str:
    return FLOOR.format(paths=site_packages(), model=str(model_path), body=body.decode())


def handler_script(
    paths: list[str], handler: str, event: dict[str, Any], preload: tuple[str, ...] = ()
) -> str:
    return HANDLER.format(paths=paths, handler=handler, event=json.dumps(event), preload=preload)


def naive_script(model_path: Path, event: dict[str, Any]) -> str:
    return NAIVE.format(
        paths=[str(REPO), *site_packages()], model=str(model_path), event=json.dumps(event)
    )
