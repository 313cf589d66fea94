"""Cold start: a fresh interpreter that imports, loads the model and answers once.

Every variant runs as `python -S` (no site: only the sys.path each script sets), so the
built artifact sees just its function code and layer, as on Lambda, and the floor and the
naive app see only the virtualenv's site-packages. The time is the whole process, spawn to
exit, measured here; the script also reports its own import/init and first-call times.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

_PRELUDE = """
import sys, time, json
t0 = time.perf_counter()
sys.path[:0] = {paths!r}
"""

FLOOR = (
    _PRELUDE
    + """
import numpy as np
import onnxruntime as ort
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1  # as the function runs it, so the floor is not slowed by a pool
sess = ort.InferenceSession({model!r}, opts, providers=["CPUExecutionProvider"])
t1 = time.perf_counter()
x = np.asarray(json.loads({body!r})["inputs"], dtype=np.float32)
sess.run(None, {{sess.get_inputs()[0].name: x}})
t2 = time.perf_counter()
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"init_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3, "hwm_kb": int(hwm)}}))
"""
)

HANDLER = (
    _PRELUDE
    + """
import importlib
module, _, attr = {handler!r}.rpartition(".")
handler = getattr(importlib.import_module(module), attr)
t1 = time.perf_counter()
response = handler(json.loads({event!r}), None)
t2 = time.perf_counter()
assert response["statusCode"] == 200, response
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"init_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3, "hwm_kb": int(hwm)}}))
"""
)

NAIVE = (
    _PRELUDE
    + """
from bench.naive_app import create_handler
handler = create_handler({model!r})
t1 = time.perf_counter()
response = handler(json.loads({event!r}), None)
t2 = time.perf_counter()
assert response["statusCode"] == 200, response
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"init_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3, "hwm_kb": int(hwm)}}))
"""
)


@dataclass(frozen=True)
class ColdStart:
    wall_ms: float  # median, spawn to exit
    init_ms: float  # median, in-process: imports and model load
    first_ms: float  # median, in-process: first answer
    max_rss_mb: float  # largest of the runs
    runs: int

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def site_packages() -> list[str]:
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(paths)


def run_once(script: str, env: dict[str, str]) -> tuple[float, dict[str, float], float]:
    """(wall ms, the script's own numbers, max RSS MB) of one fresh `python -S` process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", script],
        env=env,
        cwd="/",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status = os.waitpid(proc.pid, 0)
    wall = (time.perf_counter() - start) * 1000.0
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start script failed ({proc.returncode}): {err[-1500:]}")
    numbers = json.loads(out.strip().splitlines()[-1])
    # The process's own peak RSS (VmHWM): wait4's ru_maxrss would include the parent's at fork.
    return wall, numbers, numbers["hwm_kb"] / 1024.0


def measure(script: str, env: dict[str, str], runs: int) -> ColdStart:
    """Median over `runs` fresh processes, after one unmeasured run that warms the file cache."""
    run_once(script, env)
    walls, inits, firsts, rss = [], [], [], []
    for _ in range(runs):
        wall, numbers, mb = run_once(script, env)
        walls.append(wall)
        inits.append(numbers["init_ms"])
        firsts.append(numbers["first_ms"])
        rss.append(mb)
    return ColdStart(
        round(statistics.median(walls), 1),
        round(statistics.median(inits), 1),
        round(statistics.median(firsts), 2),
        round(max(rss), 1),
        runs,
    )


def measure_interleaved(
    scripts: dict[str, str], env: dict[str, str], runs: int
) -> dict[str, dict[str, Any] | str]:
    """Like `measure` for several scripts, taking turns run by run so that a burst of other
    load on the machine hits every variant alike. A failing script gives its reason."""
    failed: dict[str, dict[str, Any] | str] = {}
    live = dict(scripts)
    samples: dict[str, list[tuple[float, dict[str, float], float]]] = {k: [] for k in live}
    for round_ in range(runs + 1):  # round 0 warms the file cache and is not kept
        for name, script in list(live.items()):
            try:
                sample = run_once(script, env)
            except RuntimeError as exc:
                failed[name] = f"not available: {exc}"
                del live[name]
                continue
            if round_:
                samples[name].append(sample)
    out: dict[str, dict[str, Any] | str] = {}
    for name in scripts:
        if name in failed:
            out[name] = failed[name]
            continue
        rows = samples[name]
        out[name] = ColdStart(
            round(statistics.median(w for w, _, _ in rows), 1),
            round(statistics.median(n["init_ms"] for _, n, _ in rows), 1),
            round(statistics.median(n["first_ms"] for _, n, _ in rows), 2),
            round(max(mb for _, _, mb in rows), 1),
            len(rows),
        ).to_dict()
    return out


def base_env(extra: dict[str, str]) -> dict[str, str]:
    # Only what a Lambda environment would have; no PYTHONPATH or virtualenv leaking in.
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SLIPWAY_METRICS": "on"}
    env.update(extra)
    return env


def floor_script(model_path: Path, body: bytes) -> str:
    return FLOOR.format(paths=site_packages(), model=str(model_path), body=body.decode())


def handler_script(paths: list[str], handler: str, event: dict[str, Any]) -> str:
    return HANDLER.format(paths=paths, handler=handler, event=json.dumps(event))


def naive_script(model_path: Path, event: dict[str, Any]) -> str:
    return NAIVE.format(
        paths=[str(REPO), *site_packages()], model=str(model_path), event=json.dumps(event)
    )
