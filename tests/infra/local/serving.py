"""`slipway serve` for tests: a served platform on a free port, its CLI, and a live load."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from infra import servers

REPO = Path(__file__).parents[3]
SLIPWAY = [sys.executable, "-m", "infra"]


class Served:
    def __init__(self, state: Path, store: Path, port: int) -> None:
        self.state, self.store, self.port = state, store, port
        self.env = {**os.environ, "SLIPWAY_STORE": str(store), "SLIPWAY_STATE_DIR": str(state)}
        self.url = f"https://127.0.0.1:{port}"
        self.cert = str(state / "tls" / "cert.pem")

    def cli(self, *args: str) -> str:
        out = self.run(*args)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SLIPWAY, *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=600
        )


def serve_pids(port: int) -> list[int]:
    """The `slipway serve` processes started with `--port PORT`."""
    out = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and str(port).encode() in args:
            out.append(int(cmdline.parent.name))
    assert out, f"no slipway serve process on port {port}"
    return out


@contextmanager
def serve(example_store: Path, root: Path, *flags: str) -> Iterator[Served]:
    """`slipway serve [flags]` over a copy of the example store, stopped (by pid) when done."""
    store = root / "store"
    shutil.copytree(example_store, store)
    s = Served(root / "state", store, servers.free_port())
    cmd = [*SLIPWAY, "serve", "--port", str(s.port), "--concurrency", "4", "--quiet", *flags]
    log, health = root / "serve.log", s.url + "/health"
    # The first run builds the layer, hence the long timeout.
    with servers.running(cmd, log=log, env=s.env, cwd=REPO, url=health, cafile=s.cert, timeout=600):
        yield s


def triton_client(served: Served) -> Any:
    """tritonclient's HTTP client at the platform, trusting its self-signed certificate
    (close it when done)."""
    import tritonclient.http as triton_http

    host = served.url.split("://", 1)[1]
    return triton_http.InferenceServerClient(
        host, ssl=True, ssl_options={"ca_certs": served.cert}, network_timeout=60
    )


@contextmanager
def hub_trusting(served: Served) -> Iterator[None]:
    """huggingface_hub's shared HTTP client trusting the platform's certificate, through its
    documented hook (set_client_factory); its default client again afterwards."""
    import ssl

    import httpx2
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils._http import default_client_factory

    context = ssl.create_default_context(cafile=served.cert)
    set_client_factory(lambda: httpx2.Client(verify=context, timeout=60))
    try:
        yield
    finally:
        set_client_factory(default_client_factory)


class Load:
    """Four clients posting predictions until stopped; every answer is recorded."""

    clients = 4

    def __init__(self, served: Served, body: dict[str, Any]) -> None:
        self.served, self.body = served, body
        self.statuses: Counter[int] = Counter()
        self.versions: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self.errors: list[BaseException] = []  # what a client thread raised, for the test thread
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(self.clients)]

    def _run(self) -> None:
        try:
            self._post_until_stopped()
        except BaseException as exc:  # pytest never sees a thread's exception: keep it
            self.errors.append(exc)

    def check(self) -> None:
        """Raise in the test's thread what a client thread raised (its assertions included)."""
        if self.errors:
            raise self.errors[0]

    def _post_until_stopped(self) -> None:
        with httpx.Client(verify=self.served.cert, timeout=30) as client:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    r = client.post(self.served.url + "/predict", json=self.body)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.statuses[r.status_code] += 1
                if r.status_code == 200:
                    self.versions.append((sent, self.version(r)))
                elif r.status_code != 429:
                    self.failures.append(f"{r.status_code} {r.text[:200]}")

    def version(self, r: httpx.Response) -> str:
        """The version that answered, checked against the model it served."""
        fn = r.headers["x-slipway-function-version"]
        assert r.headers["x-model-version"] == fn  # version N pins model digits@N here
        return fn

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        if exc[0] is None:  # the body's own failure comes first
            assert not any(t.is_alive() for t in self._threads), "a client did not stop"
            self.check()

    def seen_since(self, since: float, timeout: float = 60) -> set[str]:
        """Versions that answered requests sent after `since`, once 40 have come in."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            after = [v for t, v in list(self.versions) if t > since]
            if len(after) >= 40:
                return set(after)
            time.sleep(0.1)
        raise AssertionError("the load got too few answers")
