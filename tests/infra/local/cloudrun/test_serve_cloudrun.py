"""`slipway serve --platform cloudrun` over real HTTPS with the real image in podman: a load
runs through publish -> 10% canary -> promote -> rollback with no failure but 429, both
revisions answer, and `slipway status --target local-cloudrun` shows instances scaling from
0 to N and back to 0."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra import servers
from tests.infra.local import serving
from tests.infra.local.serving import REPO, SLIPWAY
from tests.infra.local.test_release_platform import corrupt, register

IDLE_S = 3


class Platform:
    def __init__(self, root: Path, store: Path) -> None:
        self.root, self.store, self.port = root, store, servers.free_port()
        self.state = root / "state"
        self.env = {**os.environ, "SLIPWAY_STORE": str(store), "SLIPWAY_STATE_DIR": str(self.state)}
        self.url = f"https://127.0.0.1:{self.port}"
        self.cert = str(self.state / "cloudrun" / "tls" / "cert.pem")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*SLIPWAY, *args, "--target", "local-cloudrun"],
            env=self.env, cwd=REPO, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    def instances(self) -> dict[str, Any]:
        out = self.run("status", "--json")
        assert out.returncode == 0, out.stderr
        found: dict[str, Any] = json.loads(out.stdout)["instances"]
        assert found is not None, "status sees no running gateway"
        return found

    def running(self, revision: int) -> int:
        """From the gateway's file directly: polling through the CLI would crowd two cores."""
        from infra.local.cloudrun.gateway import read_instances

        found = read_instances(self.state / "cloudrun")
        assert found is not None, "the gateway wrote no fresh instances.json"
        row = found["revisions"].get(str(revision), {})
        return int(row.get("ready", 0)) + int(row.get("starting", 0))

    def gone(self, revision: int) -> bool:
        """No instance of `revision` is left, stopping ones included (SIGTERM takes a while)."""
        from infra.local.cloudrun.gateway import read_instances

        found = read_instances(self.state / "cloudrun")
        assert found is not None, "the gateway wrote no fresh instances.json"
        row = found["revisions"].get(str(revision), {})
        return sum(int(row.get(k, 0)) for k in ("ready", "starting", "stopping")) == 0


class Load(serving.Load):
    """Six clients; the revision that answered each request, checked against its model."""

    clients = 6

    def version(self, r: httpx.Response) -> str:
        revision = r.headers["x-slipway-revision"]
        # revision N pins digits@N here: the instance answered for its revision
        assert revision.endswith(f"-{int(r.headers['x-model-version']):05d}"), revision
        return revision


@pytest.fixture
def platform(built_image: Any, readable_store: Path) -> Iterator[Platform]:
    from infra.image.podman import local_engine

    # The store must stay readable by the containers' uid (65534) as versions are added.
    root = REPO / "build" / f"test-cloudrun-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(readable_store, root / "store")
    p = Platform(root, root / "store")
    cmd = [
        *SLIPWAY, "serve", "--platform", "cloudrun", "--image", str(built_image.archive),
        "--port", str(p.port), "--concurrency", "2", "--max-instances", "3",
        "--idle", str(IDLE_S), "--timeout", "60",
    ]  # fmt: skip
    try:
        with servers.running(
            cmd, log=root / "serve.log", env=p.env, cwd=REPO, url=p.url + "/health",
            cafile=p.cert, timeout=300, stop_timeout=30,
        ):  # fmt: skip
            yield p
    finally:
        engine = local_engine(p.state / "cloudrun")
        for name in engine.containers("slipway-cr-"):  # by name: nothing outlives the test
            engine.remove(name)
        engine.release_storage()
        shutil.rmtree(root, ignore_errors=True)


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_release_under_load_scales_out_and_back(platform: Platform) -> None:
    example = json.loads((platform.state / "cloudrun" / "example.json").read_text())
    # The startup probe's own /health started one instance; idle, it goes back to zero.
    wait_until(lambda: platform.running(1) == 0, 30, "the first instance to stop when idle")
    assert register(_Served(platform), 1) == 2
    for path in platform.store.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)

    with Load(platform, example) as load:  # type: ignore[arg-type]
        wait_until(lambda: platform.running(1) >= 2, 60, "revision 1 to scale out")
        release = platform.run(
            "release", "--model", "digits@2", "--steps", "0.1,1", "--wait", "4", "--poll", "1"
        )
        assert release.returncode == 0, release.stdout + release.stderr
        assert "alias live -> 1 + 2 at 0.1" in release.stdout
        assert "version 2 answered the smoke invoke with digits@2" in release.stdout
        answered_during_release = Counter(v for _, v in load.versions)
        wait_until(lambda: platform.running(2) >= 2, 60, "revision 2 to scale out")
        back = platform.run("rollback", "live")
        assert back.returncode == 0, back.stderr
        time.sleep(3)
    assert not load.failures, load.failures[:5]
    assert load.statuses[200] > 200
    assert answered_during_release.get("predict-00001", 0) > 0
    assert answered_during_release.get("predict-00002", 0) > 0

    # A tag route answers for its revision, whatever the traffic: revision 2 has none now.
    with httpx.Client(verify=platform.cert, timeout=60) as client:
        r = client.get(platform.url + "/rev-00002/health")
        assert r.status_code == 200 and r.json()["revision"] == "predict-00002"
        assert client.get(platform.url + "/rev-00009/health").status_code == 404
        # The target as sent: an encoded newline reaches the function, whose JSON 404 names it.
        odd = client.get(platform.url + "/rev-00002/x%0Ay?q=1")
        assert odd.status_code == 404 and odd.headers["x-slipway-revision"] == "predict-00002"
        assert "error" in odd.json(), odd.text

    # No traffic: every instance stops (SIGTERM) once idle; status shows zero, and the peaks.
    wait_until(
        lambda: platform.gone(1) and platform.gone(2),
        IDLE_S + 30,
        "every instance to stop when idle",
    )
    seen = platform.instances()["revisions"]
    assert seen["1"]["peak"] >= 2 and seen["2"]["peak"] >= 2
    assert seen["1"]["stopped"] == seen["1"]["started"]
    text = platform.run("status")
    assert "predict-00001  ready 0" in text.stdout and "predict-00002  ready 0" in text.stdout

    # A revision whose model is corrupt fails its smoke request: nothing moves.
    assert register(_Served(platform), 3) == 3
    corrupt(_Served(platform), 3)
    bad = platform.run("release", "--model", "digits@3", "--steps", "1", "--wait", "1")
    assert bad.returncode == 1, bad.stdout
    assert "smoke" in bad.stdout + bad.stderr
    status = json.loads(platform.run("status", "--json").stdout)
    assert status["aliases"]["live"]["version"] == 1


class _Served:
    """What test_release_platform's register() and corrupt() read: the store."""

    def __init__(self, platform: Platform) -> None:
        self.store = platform.store
