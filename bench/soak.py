"""Soak: `slipway serve` under steady HTTPS load through publish → canary → promote → rollback.

    .venv/bin/python -m bench soak [--duration 600] [--cycles 20] [--concurrency 8]

Clients post the example request back to back for `--duration` seconds while the CLI runs
`--cycles` release cycles (publish, canary at 0.5, promote, rollback twice, so each cycle
ends where it began). Every request is accounted for: answered (by status and version) or
lost (a transport error). Reports requests, non-2xx by status, 429s, lost, p50/p99, and the
resident memory of the gateway and of its execution environments at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infra import servers
from infra.loadtest.stats import percentile

REPO = Path(__file__).resolve().parents[1]
SLIPWAY = [sys.executable, "-m", "infra"]


@dataclass
class Soak:
    duration_s: float
    cycles_done: int = 0
    requests: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    lost_examples: list[str] = field(default_factory=list)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)

    @property
    def bad(self) -> int:
        """Answers other than 2xx and 429."""
        return sum(n for s, n in self.statuses.items() if not (s.startswith("2") or s == "429"))


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out


def memory(gateway: int) -> dict[str, float]:
    envs = _children(gateway)
    return {
        "gateway": round(rss_mb(gateway), 1),
        "environments": round(sum(map(rss_mb, envs)), 1),
    }


class Clients:
    def __init__(self, url: str, cert: str, body: Any, n: int) -> None:
        self.url, self.cert, self.body = url, cert, body
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.versions: Counter[str] = Counter()
        self.lost: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]

    def _run(self) -> None:
        import httpx

        with httpx.Client(verify=self.cert, timeout=60) as client:
            while not self._stop.is_set():
                sent = time.perf_counter()
                try:
                    r = client.post(self.url + "/predict", json=self.body)
                except httpx.HTTPError as exc:
                    self.lost.append(repr(exc)[:200])
                    continue
                self.latencies.append((time.perf_counter() - sent) * 1000)
                self.statuses[str(r.status_code)] += 1
                self.versions[r.headers.get("x-slipway-function-version", "-")] += 1

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [*SLIPWAY, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0:
        raise RuntimeError(f"slipway {' '.join(args)} failed: {out.stderr[-500:]}")
    return out.stdout


def _live(env: dict[str, str]) -> int:
    return int(json.loads(_cli(env, "status", "--json"))["aliases"]["live"]["version"])


def run(store: Path, *, duration_s: float, cycles: int, concurrency: int, work: Path) -> Soak:
    """Soak a fresh platform on a copy of `store` (which holds digits@1)."""
    shutil.copytree(store, work / "store")
    state = work / "state"
    env = {**os.environ, "SLIPWAY_STORE": str(work / "store"), "SLIPWAY_STATE_DIR": str(state)}
    port = servers.free_port()
    url, cert = f"https://127.0.0.1:{port}", str(state / "tls" / "cert.pem")
    cmd = [*SLIPWAY, "serve", "--port", str(port), "--quiet"]
    cmd += ["--concurrency", str(concurrency + 2)]
    result = Soak(duration_s)
    with servers.running(
        cmd, log=work / "serve.log", env=env, cwd=REPO, url=url + "/health", cafile=cert,
        timeout=600,
    ) as proc:  # fmt: skip
        body = json.loads((state / "example.json").read_text())
        clients = Clients(url, cert, body, concurrency)
        clients.start()
        time.sleep(min(5.0, duration_s / 10))  # environments warm before the first reading
        result.rss_mb.update({f"start_{k}": v for k, v in memory(proc.pid).items()})
        started = time.monotonic()
        gap = duration_s / max(cycles, 1)
        try:
            for i in range(cycles):
                base = _live(env)
                out = _cli(env, "publish", "--model", "digits@1", "--description", f"soak {i}")
                new = out.rsplit("published predict:", 1)[1].split()[0]
                _cli(env, "alias", "set", "live", str(base), "--canary", new, "--weight", "0.5")
                _cli(env, "alias", "set", "live", new)
                _cli(env, "rollback", "live")  # back to the canary
                _cli(env, "rollback", "live")  # back to where the cycle began
                result.cycles_done += 1
                time.sleep(max(0.0, started + gap * (i + 1) - time.monotonic()))
            time.sleep(max(0.0, started + duration_s - time.monotonic()))
        finally:
            clients.stop()
        result.rss_mb.update({f"end_{k}": v for k, v in memory(proc.pid).items()})
    result.requests = sum(clients.statuses.values()) + len(clients.lost)
    result.statuses = dict(clients.statuses)
    result.versions = dict(clients.versions)
    result.lost, result.lost_examples = len(clients.lost), clients.lost[:5]
    lat = sorted(clients.latencies)
    result.p50_ms = round(percentile(lat, 50), 2) if lat else 0.0
    result.p99_ms = round(percentile(lat, 99), 2) if lat else 0.0
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__)
    p.add_argument("--duration", type=float, default=600.0, help="seconds (default 600)")
    p.add_argument("--cycles", type=int, default=20, help="release cycles (default 20)")
    p.add_argument("--concurrency", type=int, default=8, help="clients (default 8)")
    p.add_argument("--store", help="model store holding digits@1 (default: $SLIPWAY_STORE)")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args(argv)
    from model_store.backends.local import LocalStore

    store = LocalStore(args.store or os.environ.get("SLIPWAY_STORE") or None).root
    with tempfile.TemporaryDirectory(prefix="slipway-soak-") as tmp:
        result = run(
            store,
            duration_s=args.duration,
            cycles=args.cycles,
            concurrency=args.concurrency,
            work=Path(tmp),
        )
    text = json.dumps({**asdict(result), "bad": result.bad}, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0 if result.bad == 0 and result.lost == 0 else 1
