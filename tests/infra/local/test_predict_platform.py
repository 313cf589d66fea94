"""End to end: `slipway serve` runs the built artifact; releases move under a live load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

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
        out = subprocess.run(
            [*SLIPWAY, *args], env=self.env, cwd=REPO, capture_output=True, text=True, timeout=600
        )
        assert out.returncode == 0, out.stderr
        return out.stdout


@pytest.fixture(scope="module")
def served(example_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("platform")
    store = root / "store"
    shutil.copytree(example_store, store)
    s = Served(root / "state", store, servers.free_port())
    cmd = [*SLIPWAY, "serve", "--port", str(s.port), "--concurrency", "4", "--quiet"]
    log, health = root / "serve.log", s.url + "/health"
    # The first run builds the layer, hence the long timeout.
    with servers.running(cmd, log=log, env=s.env, cwd=REPO, url=health, cafile=s.cert, timeout=600):
        yield s


def test_predictions_over_https_match_onnxruntime(
    served: Served, example_store: Path, digits_test_rows
) -> None:
    rows = digits_test_rows[:64]
    r = httpx.post(
        served.url + "/predict", json={"inputs": rows.tolist()}, verify=served.cert, timeout=30
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] == "1" and r.headers["x-slipway-function-version"] == "1"
    session = ort.InferenceSession(str(example_store / "digits" / "1" / "model.onnx"))
    labels, _ = session.run(None, {"input": rows.astype(np.float32)})
    assert r.json()["outputs"]["label"] == labels.tolist()
    bad = httpx.post(served.url + "/predict", json={"inputs": [[1, 2]]}, verify=served.cert)
    assert bad.status_code == 422 and "rows of shape [64]" in bad.json()["error"]["message"]


class Load:
    """Four clients posting predictions until stopped; every answer is recorded."""

    def __init__(self, served: Served, body: dict) -> None:
        self.served, self.body = served, body
        self.statuses: Counter[int] = Counter()
        self.versions: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self.errors: list[BaseException] = []  # what a client thread raised, for the test thread
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(4)]

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
                    fn = r.headers["x-slipway-function-version"]
                    assert r.headers["x-model-version"] == fn  # version N pins model digits@N here
                    self.versions.append((sent, fn))
                elif r.status_code != 429:
                    self.failures.append(f"{r.status_code} {r.text[:200]}")

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


def test_canary_promote_rollback_under_load(served: Served, example_manifest) -> None:
    from model_store.backends.local import LocalStore
    from model_store.example import build_and_register

    manifest, created, _ = build_and_register(LocalStore(served.store), seed=1)
    assert created and manifest.version == 2
    assert "published predict:2" in served.cli("publish", "--model", "digits@2")
    with Load(served, example_manifest.example) as load:
        assert load.seen_since(0) == {"1"}
        served.cli("alias", "set", "live", "1", "--canary", "2", "--weight", "0.5")
        assert load.seen_since(time.monotonic()) == {"1", "2"}
        served.cli("alias", "set", "live", "2")
        assert load.seen_since(time.monotonic()) == {"2"}
        served.cli("rollback", "live")
        assert "1" in load.seen_since(time.monotonic())
        served.cli("rollback", "live")
        assert load.seen_since(time.monotonic()) == {"1"}
    assert load.failures == [] and set(load.statuses) <= {200, 429}
    status = json.loads(served.cli("status", "--json"))
    assert (
        status["aliases"]["live"]["version"] == 1 and status["versions"]["2"]["model"] == "digits@2"
    )
