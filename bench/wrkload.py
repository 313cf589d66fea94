"""Drive a fixed-concurrency HTTP(S) load with wrk (a C load generator) and parse its report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass(frozen=True)
class WrkResult:
    url: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse(output: str, url: str, connections: int, duration_s: float) -> WrkResult:
    pct = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", output, re.M))
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        url=url,
        connections=connections,
        duration_s=duration_s,
        requests=requests,
        rps=rps,
        p50_ms=_ms(pct["50"]),
        p90_ms=_ms(pct["90"]),
        p99_ms=_ms(pct["99"]),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def run(
    url: str,
    body: dict[str, Any],
    *,
    connections: int = 8,
    duration_s: float = 10,
    threads: int = 2,
) -> WrkResult:
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body.json"
        body_file.write_text(json.dumps(body))
        script = Path(tmp) / "post.lua"
        script.write_text(LUA.format(body=body_file))
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s", "--latency", "-s", str(script), url],
            capture_output=True, text=True, timeout=duration_s + 60, check=True,
        )  # fmt: skip
    return parse(out.stdout, url, connections, duration_s)
