"""`python -m bench cloudrun`: the local Cloud Run platform's numbers, in one run.

- cold start of an instance: `podman run` of the image in HTTP mode -> startup probe
  (GET /health) passes -> first POST /predict answers 200, started as the autoscaler starts
  one (`infra.local.cloudrun.containers.PodmanLauncher`, 1 vCPU, one server process); and the
  first request through the gateway to a revision scaled to zero (queue + start + answer);
- one instance (1 vCPU): requests/s and p50/p99 at 8 and 80 connections (wrk, batch 1), sent
  to the instance itself and through `slipway serve --platform cloudrun --max-instances 1`
  (HTTPS, the proxy);
- a 30-second Locust ramp from 1 to 64 users (`slipway loadtest --users 64 --spawn-rate
  2.1`) through the gateway, at concurrency 80 (Cloud Run's default) and 8: the instances the
  autoscaler started, the requests, failures and throttles.

Everything runs on this machine's 2 cores: the load generator, the gateway and the instances
share them, so these are the platform's costs here, not Cloud Run's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import wrkload
from bench.image import _body
from infra import servers

REPO = Path(__file__).resolve().parents[1]
SLIPWAY = [sys.executable, "-m", "infra"]


def _version(image: str, store: Path) -> Any:
    from functions.predict.config import MODEL, STORE
    from infra.local.state.store import Version

    return Version(
        number=1, handler="", code=(str(store),), env={MODEL: "digits@1", STORE: str(store)},
        memory_mb=512, image=image,
    )  # fmt: skip


async def _cold(engine: Any, image: str, store: Path, body: bytes) -> dict[str, float]:
    import aiohttp

    from infra.local.cloudrun.containers import PodmanLauncher
    from infra.local.cloudrun.instances import Instance

    launcher = PodmanLauncher(lambda: engine, service="predict", cpus=1.0, log=lambda _l: None)
    instance = Instance("bench", _version(image, store), f"slipway-cr-bench-{os.getpid()}",
                        servers.free_port())  # fmt: skip
    start = time.perf_counter()
    try:
        await launcher.start(instance)
        probe = time.perf_counter()
        headers = {"content-type": "application/json"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(instance.url + "/predict", data=body, headers=headers) as r,
        ):
            await r.read()
            assert r.status == 200, r.status
        first = time.perf_counter()
        return {"probe_ms": (probe - start) * 1000, "first_200_ms": (first - start) * 1000}
    finally:
        await launcher.stop(instance, 0)


def cold_starts(engine: Any, image: str, store: Path, runs: int) -> list[dict[str, float]]:
    body = json.dumps(_body(store, "digits@1", 1)).encode()
    return [asyncio.run(_cold(engine, image, store, body)) for _ in range(runs)]


def one_instance(engine: Any, image: str, store: Path, duration: float) -> dict[str, Any]:
    from infra.image.run import spec, started

    port = servers.free_port()
    run = spec(image, port, env={"SLIPWAY_STORE": str(store), "SLIPWAY_HTTP_WORKERS": "1"},
               mounts=((str(store),) * 2,), cpus=1.0, revision="predict-00001")  # fmt: skip
    body = _body(store, "digits@1", 1)
    with started(engine, run, port):
        return {
            f"c{c}": wrkload.run(
                f"http://127.0.0.1:{port}/predict", body, connections=c, duration_s=duration
            ).to_dict()
            for c in (8, 80)
        }


class Served:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.url = f"https://127.0.0.1:{port}"
        self.cert = str(root / "cloudrun" / "tls" / "cert.pem")

    def instances(self) -> dict[str, Any]:
        from infra.local.cloudrun.gateway import read_instances

        return read_instances(self.root / "cloudrun") or {"revisions": {}}

    def running(self, after: float = 0.0) -> int:
        """Instances of revision 1 as the gateway wrote them; -1 until it wrote after `after`."""
        found = self.instances()
        if float(found.get("updated", 0)) <= after:
            return -1
        row = found["revisions"].get("1", {})
        return int(row.get("ready", 0)) + int(row.get("starting", 0))


@contextmanager
def gateway(archive: Path, store: Path, *flags: str) -> Iterator[Served]:
    with tempfile.TemporaryDirectory(prefix="bench-cloudrun-", dir=REPO / "build") as tmp:
        s = Served(Path(tmp), servers.free_port())
        env = {**os.environ, "SLIPWAY_STORE": str(store), "SLIPWAY_STATE_DIR": tmp}
        cmd = [*SLIPWAY, "serve", "--platform", "cloudrun", "--image", str(archive),
               "--port", str(s.port), "--quiet", *flags]  # fmt: skip
        try:
            with servers.running(cmd, log=Path(tmp) / "serve.log", env=env, cwd=REPO,
                                 url=s.url + "/health", cafile=s.cert, timeout=300,
                                 stop_timeout=30):  # fmt: skip
                yield s
        finally:
            from infra.image.podman import local_engine

            engine = local_engine(s.root / "cloudrun")
            for name in engine.containers("slipway-cr-"):
                engine.remove(name)
            engine.release_storage()


def _wait(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the gateway's instances did not get there in time")
        time.sleep(0.2)


def through_gateway(archive: Path, store: Path, duration: float, runs: int) -> dict[str, Any]:
    body = _body(store, "digits@1", 1)
    out: dict[str, Any] = {"from_zero_ms": []}
    with gateway(archive, store, "--max-instances", "1", "--idle", "2") as s:
        with httpx.Client(verify=s.cert, timeout=60) as http:
            last = time.time()
            for _ in range(runs):  # the revision at zero instances, then one request
                _wait(lambda t=last: s.running(after=t) == 0, 60)
                last = time.time()
                start = time.perf_counter()
                r = http.post(s.url + "/predict", json=body)
                assert r.status_code == 200, r.text
                out["from_zero_ms"].append((time.perf_counter() - start) * 1000)
        for c in (8, 80):
            out[f"c{c}"] = wrkload.run(
                s.url + "/predict", body, connections=c, duration_s=duration
            ).to_dict()
    return out


def ramp(archive: Path, store: Path, concurrency: int, seconds: float) -> dict[str, Any]:
    """Locust, 1 -> 64 users in `seconds`; the instances sampled from the gateway's file."""
    with gateway(archive, store, "--concurrency", str(concurrency), "--idle", "60") as s:
        samples: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            start = time.monotonic()
            while not done.is_set():
                samples.append((round(time.monotonic() - start, 1), s.running()))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample)
        with tempfile.TemporaryDirectory() as out:
            sampler.start()
            try:
                subprocess.run(
                    [*SLIPWAY, "loadtest", s.url + "/predict", "--users", "64",
                     "--spawn-rate", f"{63 / seconds:.3f}", "--duration", f"{seconds:g}",
                     "--model", "digits@1", "--store", str(store), "--cacert", s.cert,
                     "--out", out],
                    check=True, capture_output=True, timeout=seconds + 120, cwd=REPO,
                )  # fmt: skip
            finally:
                done.set()
                sampler.join()
            report = json.loads((Path(out) / "loadtest.json").read_text())
        revision = s.instances()["revisions"].get("1", {})
    overall = report["overall"]
    return {
        "concurrency": concurrency,
        "instances_started": revision.get("started", 0),
        "peak_instances": revision.get("peak", 0),
        "samples": samples,
        "requests": overall["requests"],
        "ok": overall["ok"],
        "errors": overall["errors"],
        "throttles": overall["throttles"],
        "rps": overall["rps"],
        "p50_ms": overall["p50_ms"],
        "p99_ms": overall["p99_ms"],
        "error_kinds": report["errors"],
    }


def _med(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def render(r: dict[str, Any]) -> str:
    cold = r["cold"]
    lines = [
        "# Local Cloud Run (`slipway serve --platform cloudrun`)",
        "",
        f"`python -m bench cloudrun` on {os.cpu_count()} cores, {r['when']}; the image for "
        "this machine, the example digits model, batch 1. The load generator, the gateway and "
        "the instances share the machine.",
        "",
        "## Cold start of an instance (1 vCPU)",
        "",
        "| run | startup probe passes (ms) | first 200 of POST /predict (ms) |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {i + 1} | {c['probe_ms']:.0f} | {c['first_200_ms']:.0f} |" for i, c in enumerate(cold)
    ]
    lines += [
        f"| median | {_med([c['probe_ms'] for c in cold])} | "
        f"{_med([c['first_200_ms'] for c in cold])} |",
        "",
        "First request through the gateway to a revision at zero instances (ms): "
        + ", ".join(f"{v:.0f}" for v in r["gateway"]["from_zero_ms"]),
        "",
        "## One instance (1 vCPU, one server process): wrk, batch 1",
        "",
        "| path | connections | requests/s | p50 ms | p99 ms | non-2xx |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, rows in (("to the instance", r["instance"]), ("through the gateway", r["gateway"])):
        for c in ("c8", "c80"):
            w = rows[c]
            lines.append(
                f"| {name} | {w['connections']} | {w['rps']:.0f} | {w['p50_ms']:.2f} | "
                f"{w['p99_ms']:.2f} | {w['non_2xx']} |"
            )
    lines += [
        "",
        "## A 30-second ramp from 1 to 64 users (Locust, through the gateway)",
        "",
        "| concurrency | instances started | peak | requests | ok | 429 | failures | "
        "requests/s | p50 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in r["ramp"]:
        lines.append(
            f"| {row['concurrency']} | {row['instances_started']} | {row['peak_instances']} | "
            f"{row['requests']} | {row['ok']} | {row['throttles']} | {row['errors']} | "
            f"{row['rps']} | {row['p50_ms']} | {row['p99_ms']} |"
        )
    for row in r["ramp"]:
        trace = " ".join(f"{t:g}s:{n}" for t, n in row["samples"][::4])
        lines.append(f"\nInstances over time at concurrency {row['concurrency']}: {trace}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench cloudrun")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--ramp", type=float, default=30.0)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "cloudrun-bench.md")
    args = p.parse_args(argv)
    from infra.dirs import store_dir
    from infra.image.base import host_arch
    from infra.image.builder import build_image
    from infra.image.podman import Podman

    archive = build_image(host_arch()).archive
    engine = Podman(REPO / "build" / "bench-podman")
    image = engine.load(archive)
    # The instances run as uid 65534: a copy of the store they can read.
    with tempfile.TemporaryDirectory(prefix="bench-cloudrun-store-", dir=REPO / "build") as tmp:
        store = Path(tmp) / "store"
        shutil.copytree(store_dir(None), store)
        for path in [Path(tmp), store, *store.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        print("cold starts…", file=sys.stderr)
        results: dict[str, Any] = {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cold": cold_starts(engine, image, store, args.runs),
        }
        print("one instance…", file=sys.stderr)
        results["instance"] = one_instance(engine, image, store, args.duration)
        print("through the gateway…", file=sys.stderr)
        results["gateway"] = through_gateway(archive, store, args.duration, 3)
        print("ramps…", file=sys.stderr)
        results["ramp"] = [ramp(archive, store, c, args.ramp) for c in (80, 8)]
    text = render(results)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print(text)
    return 0
