"""Run Locust headless in a child process and collect its per-request records.

Why a child process running the `locust` command rather than locust's Environment API here:
locust monkey-patches the standard library with gevent at import, which would change sockets,
threads and ssl for everything else in the calling process (the benchmark suite runs
onnxruntime, asyncio servers and subprocesses beside it). The child is bounded by Locust's
--run-time, by our request budget, and by a hard timeout here.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from infra import progress
from infra.loadtest import stats
from infra.loadtest.config import LoadTestConfig
from infra.loadtest.exceptions import LocustRunError

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# Past --run-time: Locust's own stop timeout plus start-up, before the child is killed.
GRACE_S = 60.0
PROGRESS_EVERY_S = 1.0  # how often the elapsed time is shown (and the child polled)


@dataclass(frozen=True)
class RunResult:
    records: list[stats.Record]
    seconds: float  # wall time of the load, first request start to last response
    log_tail: str


def locust_command(cfg: LoadTestConfig) -> list[str]:
    spawn = cfg.spawn_rate if cfg.spawn_rate > 0 else float(cfg.users)
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(cfg.users),
        "--spawn-rate",
        f"{spawn:g}",
        "--run-time",
        f"{max(1, math.ceil(cfg.duration_s))}s",
        "--host",
        cfg.host.rstrip("/"),
        "--stop-timeout",
        "10",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]


def run(cfg: LoadTestConfig, body: bytes) -> RunResult:
    """Load `cfg.host` + `cfg.path` with `body`; return every request's record."""
    with tempfile.TemporaryDirectory(prefix="slipway-loadtest-") as tmp:
        body_file = Path(tmp, "body.json")
        body_file.write_bytes(body)
        records_file = Path(tmp, "records.csv")
        env = {**os.environ, **cfg.child_env(str(body_file), str(records_file))}
        output = Path(tmp, "locust.log")
        with (
            output.open("w+") as sink,
            progress.task(f"load test {cfg.host}", total=cfg.duration_s, unit="s") as clock,
        ):
            # Output to a file, not a pipe, so Locust never blocks while the clock ticks.
            proc = subprocess.Popen(
                locust_command(cfg),
                env=env,
                cwd=tmp,  # keep Locust from picking up a locust.conf where the user stands
                stdout=sink,
                stderr=subprocess.STDOUT,
                text=True,
            )
            started = time.monotonic()
            while proc.poll() is None:
                elapsed = time.monotonic() - started
                if elapsed > cfg.duration_s + GRACE_S:
                    proc.kill()
                    proc.wait()
                    raise LocustRunError(
                        f"locust did not stop within {cfg.duration_s + GRACE_S:.0f} s"
                    )
                clock.update(elapsed, f"{cfg.users} users")
                time.sleep(PROGRESS_EVERY_S)
        log = output.read_text()[-3000:]
        if proc.returncode != 0:
            raise LocustRunError(f"locust exited with {proc.returncode}:\n{log}")
        if not records_file.exists():
            raise LocustRunError(f"locust recorded nothing:\n{log}")
        records = stats.read_records(records_file.read_text().splitlines())
    if not records:
        raise LocustRunError(f"locust made no request:\n{log}")
    return RunResult(records, stats.wall_seconds(records), log)
