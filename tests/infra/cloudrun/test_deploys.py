"""Deploys on Cloud Run follow the rule they follow on AWS, through the real google-cloud-run
clients against the loopback Admin API fake (the world of test_platform.py).

A deploy of new code is `slipway release --image-uri` with no model named: the model `live`
serves stays. A changed manifest is applied as a release (`--manifest`): a new revision with
no traffic, smoke-tested, then traffic in steps. What changes nothing moves nothing, so a
rollback stays; the alias's history (the service's annotation) is intact after each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from infra.release.model import History
from tests.infra.aws.conftest import two_models  # noqa: F401 - fixture
from tests.infra.cloudrun import test_platform
from tests.infra.cloudrun.test_platform import IMAGE, SERVICE, World

world = test_platform.world  # the fixture: the fake, the tag URLs, the real clients

pytest.importorskip("google.cloud.run_v2")

FAST = ("--wait", "0", "--poll", "1", "--steps", "0.5,1")
IMAGE2 = IMAGE.replace("b" * 64, "c" * 64)


def live(world: World) -> tuple[str, History]:
    """Where live points (one revision, all traffic) and its history."""
    assert world.fake.service is not None
    traffic = [t for t in world.traffic() if t[1]]
    assert len(traffic) == 1 and traffic[0][2] == "live", traffic  # never left half-shifted
    history = world.fake.service["annotations"].get("slipway.dev/history-live")
    return traffic[0][0], History.decode(history)


def model_of(world: World, revision: str) -> str:
    env = {e["name"]: e["value"] for e in world.fake.revisions[revision]["containers"][0]["env"]}
    return env["SLIPWAY_MODEL"]


def status(world: World, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert world.cli("status", "--json") == 0
    found: dict[str, object] = json.loads(capsys.readouterr().out)
    return found


def test_deploys_keep_the_model_and_a_rollback(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # New code, no model named: the model live serves (digits@1) stays; live moves in steps.
    assert world.cli("release", "--image-uri", IMAGE, *FAST) == 0
    out = capsys.readouterr().out
    assert "model: digits@1, what alias live serves now (no --model: it stays)" in out
    assert "alias live -> slipway-00001 + slipway-00002 at 0.5" in out
    assert model_of(world, "slipway-00002") == "digits@1"
    assert live(world)[0] == "slipway-00002"

    # The same again: nothing to release, no revision.
    assert world.cli("release", "--image-uri", IMAGE, *FAST) == 0
    assert "nothing to release: alias live -> version slipway-00002" in capsys.readouterr().out
    assert sorted(world.fake.revisions) == ["slipway-00001", "slipway-00002"]

    # A model named is a release of it; `slipway rollback` undoes it; the next deploy of the
    # same code changes nothing (it is live's own revision again) and keeps the rollback.
    assert world.cli("release", "--model", "digits@2", "--image-uri", IMAGE, *FAST) == 0
    assert live(world)[0] == "slipway-00003" and model_of(world, "slipway-00003") == "digits@2"
    assert world.cli("rollback", "live") == 0
    where, history = live(world)
    assert where == "slipway-00002"
    assert world.cli("release", "--image-uri", IMAGE, *FAST) == 0
    assert "nothing to release" in capsys.readouterr().out
    assert live(world) == (where, history)

    # New code, then a rollback of it: deploying that code again moves nothing.
    assert world.cli("release", "--image-uri", IMAGE2, *FAST) == 0
    assert live(world)[0] == "slipway-00004" and model_of(world, "slipway-00004") == "digits@1"
    assert world.cli("rollback", "live") == 0
    rolled = live(world)
    capsys.readouterr()
    assert world.cli("release", "--image-uri", IMAGE2, *FAST) == 0
    out = capsys.readouterr().out
    assert "the code and configuration are version slipway-00004's, published before" in out
    assert live(world) == rolled and len(world.fake.revisions) == 4
    state = status(world, capsys)
    assert [t for t in state["traffic"] if t["percent"]] == [  # type: ignore[attr-defined]
        {
            "revision": "slipway-00002",
            "percent": 100,
            "tag": "live",
            "uri": state["traffic"][0]["uri"],
        }  # type: ignore[index]
    ]


def test_a_changed_manifest_is_a_guarded_release(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def manifest(*flags: str) -> str:
        path = tmp_path / "service.yaml"
        argv = ["cloudrun", "manifest", "--image", IMAGE, "--service", SERVICE, *flags]
        from infra import cli

        assert cli.main([*argv, "--out", str(path)]) == 0
        return str(path)

    # More memory: a new revision with the manifest's template, no traffic until it answered
    # the smoke request, then in steps.
    path = manifest("--model", "digits@1", "--memory", "2Gi", "--max-instances", "4")
    assert "traffic" not in yaml.safe_load(Path(path).read_text())["spec"]
    assert world.cli("release", "--manifest", path, *FAST) == 0
    out = capsys.readouterr().out
    assert f"with {path}'s template: 1 CPU, 2Gi, concurrency 80, timeout 60 s, 0 to 4" in out
    assert "alias live -> slipway-00001 + slipway-00002 at 0.5" in out
    revision = world.fake.revisions["slipway-00002"]
    assert revision["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "2Gi"}
    assert revision["scaling"]["maxInstanceCount"] == 4 and revision["timeout"] == "60s"
    assert live(world)[0] == "slipway-00002"

    # Re-applied unchanged: nothing moves.
    assert world.cli("release", "--manifest", path, *FAST) == 0
    assert "nothing to release: alias live -> version slipway-00002" in capsys.readouterr().out

    # A changed manifest whose revision fails its smoke request moves no traffic.
    path = manifest("--model", "digits@1", "--memory", "4Gi")
    world.failing_tags.add("rev-00003")
    assert world.cli("release", "--manifest", path, *FAST) == 1
    assert "No traffic moved" in capsys.readouterr().err
    assert live(world)[0] == "slipway-00002"

    # A manifest baking another model is a release of that model: it says so, by name.
    path = manifest("--model", "digits@2")
    assert world.cli("release", "--manifest", path, *FAST) == 1
    assert "pass --model digits@2 to release it" in capsys.readouterr().err
    assert world.cli("release", "--manifest", path, "--model", "digits@2", *FAST) == 0
    assert live(world)[0] == "slipway-00004" and model_of(world, "slipway-00004") == "digits@2"
    assert [e.target.token() for e in live(world)[1].earlier] == ["slipway-00001", "slipway-00002"]
