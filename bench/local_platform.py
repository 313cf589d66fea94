"""Issue 4's numbers: the local platform over HTTPS next to gunicorn + Flask over HTTP.

Runs `slipway serve` (the built artifact, real awslambdaric environments) and
`gunicorn --workers 2` serving the Flask app on the same model, loads each with wrk at
concurrency 8 for batch 1 and 64, and reads Init Duration from the platform's REPORT lines.

    .venv/bin/python bench/local_platform.py [--duration 10] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wrkload  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(
    cmd: list[str], env: dict[str, str], log: Path, ready_url: str, verify: Any = True
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            cmd, env=env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 600
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[:3]} exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(ready_url, verify=verify, timeout=5).status_code == 200:
                        break
                except (httpx.HTTPError, OSError):
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ready_url} never came up")
                time.sleep(0.3)
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def bodies(store: str | None) -> dict[int, dict[str, Any]]:
    from model_store.example import train

    _, x_test, _ = train()
    return {b: {"inputs": x_test[:b].tolist()} for b in (1, 64)}


def warm(url: str, body: dict[str, Any], connections: int) -> None:
    """Until `connections` concurrent requests all succeed: every environment is warm."""
    from concurrent.futures import ThreadPoolExecutor

    with httpx.Client(verify=False, timeout=120) as client, ThreadPoolExecutor(connections) as pool:
        for _ in range(20):
            codes = list(
                pool.map(lambda _: client.post(url, json=body).status_code, range(connections))
            )
            if all(c == 200 for c in codes):
                return
            time.sleep(1)
    raise RuntimeError(f"{url} never answered {connections} concurrent requests")


def measure(url: str, body: dict[str, Any], connections: int, duration: float) -> dict[str, Any]:
    warm(url, body, connections)
    return wrkload.run(url, body, connections=connections, duration_s=duration).to_dict()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--connections", type=int, default=8)
    args = p.parse_args(argv)
    if not wrkload.have_wrk():
        print("wrk is not installed: `apt-get install wrk` (make bench does it)", file=sys.stderr)
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    env = {**os.environ, "SLIPWAY_STATE_DIR": str(work / "state"), "SLIPWAY_METRICS": "on"}
    loads = bodies(env.get("SLIPWAY_STORE"))
    result: dict[str, Any] = {
        "load_average": os.getloadavg(),
        "connections": args.connections,
        "duration_s": args.duration,
    }

    port = free_port()
    serve = [
        sys.executable,
        "-m",
        "infra",
        "serve",
        "--port",
        str(port),
        "--concurrency",
        str(args.connections),
    ]
    cert = work / "state" / "tls" / "cert.pem"
    with process(serve, env, work / "serve.log", f"https://127.0.0.1:{port}/health", verify=False):
        for batch, body in loads.items():
            result[f"platform_https_batch{batch}"] = measure(
                f"https://127.0.0.1:{port}/predict", body, args.connections, args.duration
            )
    inits = [
        float(x)
        for x in re.findall(
            r"Init Duration: ([\d.]+) ms", (work / "state" / "logs" / "functions.log").read_text()
        )
    ]
    result["init_duration_ms"] = (
        {"median": statistics.median(inits), "min": min(inits), "max": max(inits), "n": len(inits)}
        if inits
        else None
    )
    result["certificate"] = str(cert)

    port = free_port()
    gunicorn = [
        str(Path(sys.executable).with_name("gunicorn")),
        "--workers",
        "2",
        "--timeout",
        "300",
        "--bind",
        f"127.0.0.1:{port}",
        "functions.flask_api.api:app",
    ]
    try:
        with process(gunicorn, env, work / "gunicorn.log", f"http://127.0.0.1:{port}/health"):
            for batch, body in loads.items():
                result[f"gunicorn_http_batch{batch}"] = measure(
                    f"http://127.0.0.1:{port}/predict", body, args.connections, args.duration
                )
    except (RuntimeError, FileNotFoundError) as exc:
        result["gunicorn_error"] = str(exc)[:500]

    (RESULTS / "local_platform.json").write_text(json.dumps(result, indent=2))
    print_table(result)
    return 0


def print_table(result: dict[str, Any]) -> None:
    print(f"load average before the run: {result['load_average']}")
    print(
        f"{'target':<28} {'req/s':>9} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}"
    )
    for key, r in result.items():
        if isinstance(r, dict) and "rps" in r:
            print(
                f"{key:<28} {r['rps']:>9.1f} {r['p50_ms']:>8.2f} {r['p90_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['non_2xx']:>8} {r['socket_errors']:>7}"
            )
    for batch in (1, 64):
        a, b = result.get(f"platform_https_batch{batch}"), result.get(f"gunicorn_http_batch{batch}")
        if a and b:
            print(f"batch {batch}: platform/gunicorn throughput = {a['rps'] / b['rps']:.2f}x")
    if result.get("init_duration_ms"):
        i = result["init_duration_ms"]
        print(
            f"Init Duration: median {i['median']:.1f} ms (min {i['min']:.1f}, max {i['max']:.1f}, n={i['n']})"
        )


if __name__ == "__main__":
    sys.exit(main())
