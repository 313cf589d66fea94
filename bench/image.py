"""`python -m bench image`: the container image's numbers, in one run.

- size by layer, x86_64 and arm64 (the size report of `slipway build --image`);
- build time from nothing (base included) and cached;
- cold start, container start -> first 200: HTTP mode (`podman run` -> POST /predict), and
  Lambda mode (an execution environment that is a container -> its first invocation) against
  the bare-process environment of the zip;
- HTTP mode throughput and p50/p99 at 8 connections (wrk, batch 1 and 64) against gunicorn
  (2 sync workers) + Flask serving the same model.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import targets, wrkload
from infra import servers

REPO = Path(__file__).resolve().parents[1]


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def builds(out: Path) -> dict[str, Any]:
    from infra.image.base import host_arch
    from infra.image.builder import build_image

    host = host_arch()
    first, cold_s = _timed(build_image, host, out, use_cache=False)
    _, cached_s = _timed(build_image, host, out)
    arm = "arm64" if host != "arm64" else "x86_64"
    other, other_s = _timed(build_image, arm, out)
    return {
        "from_nothing_s": round(cold_s, 1),
        "cached_s": round(cached_s, 1),
        f"{arm}_s": round(other_s, 1),
        "reports": {host: first.report, arm: other.report},
        "archive": str(first.archive),
    }


def _body(store: Path, model: str, batch: int) -> dict[str, Any]:
    from model_store.backends.local import LocalStore
    from model_store.manifest import parse_ref

    manifest = LocalStore(store).manifest(*parse_ref(model))
    row = (manifest.example or {})["inputs"][0]
    return {"inputs": [row] * batch}


def http_cold_starts(engine: Any, image: str, store: Path, runs: int) -> list[float]:
    from infra.image.run import spec

    body = json.dumps(_body(store, "digits@1", 1)).encode()
    out = []
    for _ in range(runs):
        port = servers.free_port()
        run = spec(image, port, env={"SLIPWAY_STORE": str(store)}, mounts=((str(store),) * 2,))
        start = time.perf_counter()
        subprocess.run(engine.run_command(run, detach=True), env=engine.environ(), check=True,
                       capture_output=True)  # fmt: skip
        try:
            with httpx.Client(timeout=5) as http:
                while time.perf_counter() - start < 60:
                    try:
                        r = http.post(f"http://127.0.0.1:{port}/predict", content=body,
                                      headers={"content-type": "application/json"})  # fmt: skip
                        if r.status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.005)
            out.append((time.perf_counter() - start) * 1000)
        finally:
            engine.remove(run.name)
    return out


async def _lambda_cold(version: Any, state: Path, engine: Any, payload: bytes) -> float:
    from infra.local.runtime.artifacts import runtime_dir
    from infra.local.runtime.environment import Environment

    env = Environment("predict", version, runtime_dir=str(runtime_dir(state)), log=lambda _l: None,
                      engine=engine)  # fmt: skip
    start = time.perf_counter()
    try:
        await env.start(init_timeout_s=30)
        await env.invoke(payload)
        return (time.perf_counter() - start) * 1000
    finally:
        await env.kill()


def lambda_cold_starts(archive: Path, store: Path, runs: int) -> dict[str, list[float]]:
    from infra import events
    from infra.image.podman import local_engine
    from infra.local.platform.versions import build_version, image_version
    from model_store.backends.local import LocalStore
    from model_store.manifest import parse_ref

    manifest = LocalStore(store).manifest(*parse_ref("digits@1"))
    payload = json.dumps(
        events.http_api_v2(
            "POST",
            "/predict",
            body=json.dumps(_body(store, "digits@1", 1)).encode(),
            headers={"content-type": "application/json"},
        )
    ).encode()
    with tempfile.TemporaryDirectory(prefix="bench-image-", dir=REPO / "build") as tmp:
        state = Path(tmp)
        process = build_version(manifest, state, store=str(store))
        image = image_version(manifest, state, store=str(store), archive=archive)
        engine = local_engine(state)
        out: dict[str, list[float]] = {"process": [], "container": []}
        for _ in range(runs):  # interleaved, so the machine's load hits both alike
            out["process"].append(asyncio.run(_lambda_cold(process, state, None, payload)))
            out["container"].append(asyncio.run(_lambda_cold(image, state, engine, payload)))
        return out


def throughput(engine: Any, image: str, store: Path, duration: float) -> dict[str, Any]:
    from infra.image.run import spec, started

    out: dict[str, Any] = {}
    port = servers.free_port()
    run = spec(image, port, env={"SLIPWAY_STORE": str(store)}, mounts=((str(store),) * 2,))
    with started(engine, run, port):
        for batch in (1, 64):
            body = _body(store, "digits@1", batch)
            out[f"image-http batch {batch}"] = wrkload.run(
                f"http://127.0.0.1:{port}/predict", body, duration_s=duration
            ).to_dict()
    with targets.gunicorn_flask("digits@1", str(store)) as ep:
        for batch in (1, 64):
            body = _body(store, "digits@1", batch)
            out[f"gunicorn batch {batch}"] = wrkload.run(
                f"{ep.host}/predict", body, duration_s=duration
            ).to_dict()
    return out


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def render(results: dict[str, Any]) -> str:
    mb = 1024 * 1024
    lines = ["# Container image: one `python -m bench image` run", ""]
    b = results["builds"]
    other = [
        f"{k.removesuffix('_s')} (cached base deps) {v} s"
        for k, v in b.items()
        if k in ("arm64_s", "x86_64_s")
    ]
    lines.append(
        f"Build (host arch): from nothing {b['from_nothing_s']} s, cached {b['cached_s']} s; "
        + ", ".join(other)
    )
    lines += ["", "| arch | layer | compressed MB | unpacked MB |", "| --- | --- | --- | --- |"]
    for arch, report in b["reports"].items():
        for layer in report["layers"]:
            lines.append(
                f"| {arch} | {layer['name']} | {layer['size'] / mb:.1f} | {layer['unpacked'] / mb:.1f} |"
            )
        lines.append(
            f"| {arch} | **total** | {report['compressed_bytes'] / mb:.1f} | "
            f"{report['unpacked_bytes'] / mb:.1f} ({report['limit_used'] * 100:.2f}% of 10 GB) |"
        )
    c = results["cold"]
    lines += ["", "Cold start, container (or process) start -> first 200, median of "
              f"{len(c['http'])} runs (ms):", "", "| mode | median | runs |", "| --- | --- | --- |"]  # fmt: skip
    lines.append(
        f"| image, HTTP mode (podman run -> POST /predict) | {_median(c['http'])} | {[round(x) for x in c['http']]} |"
    )
    for name, values in c["lambda"].items():
        label = (
            "image, Lambda mode (container environment)"
            if name == "container"
            else "zip, bare-process environment"
        )
        lines.append(
            f"| {label} -> first invoke | {_median(values)} | {[round(x) for x in values]} |"
        )
    lines += ["", "Throughput, wrk, 8 connections, same model:", "",
              "| contender | req/s | p50 ms | p99 ms | non-2xx |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, row in results["throughput"].items():
        lines.append(
            f"| {name} | {row['rps']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['non_2xx']} |"
        )
    t = results["throughput"]
    for batch in (1, 64):
        ratio = t[f"image-http batch {batch}"]["rps"] / t[f"gunicorn batch {batch}"]["rps"]
        lines.append(f"\nbatch {batch}: image HTTP mode / gunicorn = {ratio:.2f}x requests/s")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench image")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "image-bench.md")
    args = p.parse_args(argv)
    from infra.dirs import store_dir
    from infra.image.podman import Podman

    store = Path(store_dir(None))
    with tempfile.TemporaryDirectory(prefix="bench-image-build-", dir=REPO / "build") as tmp:
        print("building the image from nothing, cached, and for the other arch…", file=sys.stderr)
        built = builds(Path(tmp))
        engine = Podman(REPO / "build" / "bench-podman")
        image = engine.load(Path(built["archive"]))
        print("cold starts…", file=sys.stderr)
        cold = {
            "http": http_cold_starts(engine, image, store, args.runs),
            "lambda": lambda_cold_starts(Path(built["archive"]), store, args.runs),
        }
        print("throughput…", file=sys.stderr)
        results = {
            "builds": built,
            "cold": cold,
            "throughput": throughput(engine, image, store, args.duration),
        }
    text = render(results)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(text)
    return 0
