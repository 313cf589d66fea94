"""SIGKILL at the worst moments: the state is the old one or the new one, never torn.

A `slipway alias set` killed at random points of its run (start-up, planning, the locked
write); then `slipway serve` killed (its whole process group, as a crash would) right after
an alias change, and started again on the same state: it serves the new target.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from infra import servers
from infra.local.state.store import StateStore, Version
from tests.infra.local.serving import REPO, SLIPWAY, serve, serve_pids

pytestmark = pytest.mark.integration


def two_versions(root: Path) -> StateStore:
    store = StateStore(root)
    with store.change() as box:
        for n in (1, 2):
            v = Version(number=0, handler="h.handler", code=("/x",), env={}, model=f"digits@{n}")
            box[0], _ = box[0].publish(v)
        box[0] = box[0].set_alias("live", 1)
    return store


def test_a_killed_alias_change_leaves_the_old_or_the_new_target(tmp_path: Path) -> None:
    store = two_versions(tmp_path / "state")
    rng = random.Random(11)
    env = {**os.environ, "SLIPWAY_STATE_DIR": str(store.root)}
    outcomes = []
    for i in range(12):
        target = "2" if i % 2 == 0 else "1"
        before = store.load().alias("live").target()
        proc = subprocess.Popen(
            [*SLIPWAY, "alias", "set", "live", target], env=env, cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        after = store.load().alias("live").target()  # parses: never a torn file
        assert after in (before, (int(target), None, 0.0)), (before, after)
        outcomes.append("new" if after != before else "old")
    assert json.loads(store.path.read_text())["aliases"]["live"]
    # No temporary files are left to be mistaken for state.
    assert [p.name for p in store.root.iterdir() if p.name.startswith(".state-")] == []
    print(f"killed alias changes: {outcomes}")


def test_serve_killed_after_an_alias_change_comes_back_on_the_new_target(
    example_store: Path, tmp_path: Path
) -> None:
    from model_store.backends.local import LocalStore

    with serve(example_store, tmp_path) as served:
        data = (served.store / "digits" / "1" / "model.onnx").read_bytes()
        assert data  # digits@1 serves; a second version pins the same model
        served.cli("publish", "--model", "digits@1")
        served.cli("alias", "set", "live", "2")
        # A crash: the gateway and its environments, all at once, no clean-up.
        for pid in serve_pids(served.port):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    assert LocalStore(served.store).manifest("digits", 1)
    state = StateStore(served.state).load()
    assert state.alias("live").target() == (2, None, 0.0)
    cmd = [*SLIPWAY, "serve", "--port", str(served.port), "--quiet"]
    with servers.running(
        cmd, log=tmp_path / "serve2.log", env=served.env, cwd=REPO, url=served.url + "/health",
        cafile=served.cert, timeout=300,
    ):  # fmt: skip
        r = httpx.post(
            served.url + "/predict", json={"inputs": [[0] * 64]}, verify=served.cert, timeout=60
        )
        assert r.status_code == 200 and r.headers["x-slipway-function-version"] == "2"


def test_an_environment_killed_mid_invoke_is_a_502_and_the_next_request_succeeds(
    tmp_path: Path,
) -> None:
    """SIGKILL from outside (the OOM killer, an operator) while a request is in flight."""
    from concurrent.futures import ThreadPoolExecutor

    from infra.local.gateway.background import BackgroundPlatform
    from infra.local.gateway.server import LocalPlatform
    from infra.local.runtime.artifacts import runtime_dir
    from tests.infra.local.test_faults import publish

    publish(tmp_path)
    lp = LocalPlatform(
        tmp_path, runtime_dir=runtime_dir(tmp_path), port=0, concurrency=2, log=lambda _: None
    )
    with (
        BackgroundPlatform(lp) as bg,
        httpx.Client(base_url=bg.url, verify=str(lp.cert), timeout=20) as client,
        ThreadPoolExecutor(1) as pool,
    ):
        pid = client.get("/hello").json()["pid"]
        slow = pool.submit(client.get, "/sleep", params={"ms": "5000"})
        time.sleep(1.0)  # the invocation is running in that environment now
        os.kill(pid, signal.SIGKILL)
        answer = slow.result(timeout=30)
        assert answer.status_code == 502 and "exited" in answer.json()["message"], answer.text
        after = client.get("/hello")
        assert after.status_code == 200 and after.json()["pid"] != pid
