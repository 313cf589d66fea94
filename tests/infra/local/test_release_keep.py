"""`slipway release` with no model on the local platform: the rule `npx osls deploy` follows on
AWS, learnt here. New code (this checkout's build) is released with the model `live` serves;
what changes nothing moves nothing, so a rollback stays; the history is intact after each.

Version 1 stands for an older build (an artifact this checkout does not produce); each release
builds this checkout for real, publishes, and smoke-invokes the new version in an execution
environment of its own (the real runtime interface client), as `slipway release` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from functions.predict.config import MODEL, MODEL_SHA256, STORE
from infra.local.config import HANDLER
from infra.local.state.store import StateStore, Version
from model_store.backends.local import LocalStore

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[3]
FAST = ("--steps", "0.5,1", "--wait", "0", "--poll", "1")


def slipway(state: Path, store: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLIPWAY_STORE": str(store), "SLIPWAY_PROGRESS": "plain"}
    return subprocess.run(
        [sys.executable, "-m", "infra", *argv, "--state", str(state)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def live(state: Path) -> tuple[int, list[str]]:
    alias = StateStore(state).load().aliases["live"]
    assert alias.canary is None  # never left half-shifted
    return alias.version, [e.target.token() for e in alias.history.earlier]


def test_release_without_a_model_keeps_it_and_what_changes_nothing_moves_nothing(
    example_store: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    manifest = LocalStore(example_store).manifest("digits", 1)
    old = Version(
        number=0,
        handler=HANDLER,
        code=(str(tmp_path / "older-build"),),
        env={MODEL: manifest.ref, MODEL_SHA256: manifest.sha256, STORE: str(example_store)},
        model=manifest.ref,
        model_sha256=manifest.sha256,
        artifact={"function_sha256": "0" * 64, "layer_sha256": "1" * 64},
    )
    with StateStore(state).change() as box:
        box[0], v1 = box[0].publish(old)
        box[0] = box[0].set_alias("live", v1.number)

    # New code, no model named: digits@1 stays; the new version is smoke-invoked, then shifted.
    done = slipway(state, example_store, "release", *FAST)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model: digits@1, what alias live serves now (no --model: it stays)" in done.stdout
    assert "version 2 answered the smoke invoke with digits@1" in done.stdout
    assert "alias live -> 1 + 2 at 0.5" in done.stdout and "alias live -> 2" in done.stdout
    versions = StateStore(state).load().versions
    assert versions[2].model == "digits@1" and versions[2].artifact != old.artifact
    assert live(state) == (2, ["1"])

    # The same build again: nothing is published, nothing moves.
    done = slipway(state, example_store, "release", *FAST)
    assert done.returncode == 0, done.stderr
    assert "nothing to release: alias live -> version 2, which pins this code" in done.stdout
    assert sorted(StateStore(state).load().versions) == [1, 2]

    # Rolled back, the same build changes nothing: the rollback stays, and so does the history.
    assert slipway(state, example_store, "rollback", "live").returncode == 0
    rolled = live(state)
    assert rolled == (1, [])
    done = slipway(state, example_store, "release", *FAST, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["result"] == "unchanged" and result["version"] == "1"
    assert "the code and configuration are version 2's, published before" in done.stderr
    assert live(state) == rolled and sorted(StateStore(state).load().versions) == [1, 2]
