"""`slipway release` on the local platform, against a running `slipway serve`, under load.

Over real HTTPS, with four clients posting all along: a good release moves `live` in steps;
a version that fails its smoke invoke moves no traffic; a version that starts failing once it
takes traffic is rolled back by the watch, from the errors the gateway counted for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from tests.infra.local.serving import Load, Served


def release(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    """`slipway release` with no --target: the local platform is the default."""
    return served.run("release", *args)


def register(served: Served, variant: int) -> int:
    """The next version of digits: the example model, told apart by its ONNX doc string."""
    import dataclasses

    import onnx

    from model_store.backends.local import LocalStore
    from model_store.manifest import sha256_hex

    store = LocalStore(served.store)
    if variant == 1:
        from model_store.example import build_and_register

        manifest, created, _ = build_and_register(store, seed=1)
    else:
        base = store.manifest("digits", 1)
        model = onnx.load_from_string((served.store / "digits" / "1" / "model.onnx").read_bytes())
        model.doc_string = f"test variant {variant}"
        data = model.SerializeToString()
        draft = dataclasses.replace(base, sha256=sha256_hex(data), size_bytes=len(data))
        manifest, created = store.register(data, draft)
    assert created
    return manifest.version


def corrupt(served: Served, version: int) -> None:
    """The model file no longer matches its sha256: every init of a version pinning it fails."""
    path = served.store / "digits" / str(version) / "model.onnx"
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-16] + b"\0" * 16)


def live(served: Served) -> int:
    state = json.loads(served.cli("status", "--json"))
    return int(state["aliases"]["live"]["version"])


def test_release_moves_live_in_steps_and_rolls_back_bad_versions(
    served: Served, example_manifest
) -> None:
    assert register(served, 1) == 2
    with Load(served, example_manifest.example) as load:
        assert load.seen_since(0) == {"1"}
        started = time.monotonic()
        out = release(served, "--model", "digits@2", "--steps", "0.5,1", "--wait", "5")
        assert out.returncode == 0, out.stderr
        assert "version 2 answered the smoke invoke with digits@2" in out.stdout
        assert "alias live -> 1 + 2 at 0.5" in out.stdout
        assert "released version 2 (digits@2) on alias live" in out.stdout
        # Both versions answered during the canary step, and only 2 after it.
        during = {v for t, v in list(load.versions) if t > started}
        assert during == {"1", "2"}
        assert load.seen_since(time.monotonic()) == {"2"}
        assert live(served) == 2

        # A version whose function cannot even answer the smoke invoke moves no traffic.
        assert register(served, 2) == 3
        corrupt(served, 3)
        out = release(served, "--model", "digits@3", "--steps", "0.5,1", "--wait", "5")
        assert out.returncode == 1
        assert "version 3 of predict failed the smoke invoke (Runtime.InitError)" in out.stderr
        assert "No traffic moved: alias live still points at 2" in out.stderr
        assert live(served) == 2 and load.seen_since(time.monotonic()) == {"2"}
        assert load.failures == []

        # One that fails once it takes traffic (no smoke invoke to catch it first) is rolled
        # back by the watch, from the errors the gateway counted for it alone. Its failing
        # cold starts crowd the two cores, so its first error can take seconds: watch longer.
        assert register(served, 3) == 4
        corrupt(served, 4)
        argv = ("--model", "digits@4", "--steps", "0.5,1", "--wait", "20", "--poll", "1")
        out = release(served, *argv, "--skip-smoke")
        assert out.returncode == 3  # rolled back
        assert "version 4 (digits@4) failed while taking 0.5 of live" in out.stderr, out.stderr
        assert "errors of version 4" in out.stderr and "Runtime.InitError" in out.stderr
        assert "Rolled back: alias live points at 2 again" in out.stderr
        assert live(served) == 2 and load.seen_since(time.monotonic()) == {"2"}
    # The only failed answers came from version 4 while it held its canary share.
    assert load.failures and all("predict:4" in f for f in load.failures), load.failures[:3]
    assert set(load.statuses) <= {200, 429, 502}
    # Each release is one history entry: rollback returns to version 1, before the release.
    served.cli("rollback", "live")
    assert live(served) == 1
