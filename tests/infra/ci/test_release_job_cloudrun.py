"""A dry run of release.yml's `cloudrun` job: its plan job runs as a runner would, and its
release step's command line (as the workflow writes it, variables filled from the job's and
step's env) runs through slipway's CLI against the loopback fake of the Cloud Run Admin API
(tests/infra/cloudrun): a clean canary that promotes, then a 5xx spike that rolls back and
exits 3, which fails the job.

In process, not in bash: the fake is reached through the real google-cloud-run clients with
anonymous credentials, which a child process would have to get from Application Default
Credentials, and Cloud Monitoring has no REST endpoint to point elsewhere
(tests/infra/cloudrun/test_platform.py's seam). infra/ci/release.sh itself is run by the AWS
dry run (test_release_job.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra import cli
from tests.infra.aws.conftest import two_models
from tests.infra.ci.test_commands import argv_of, commands
from tests.infra.ci.workflow import ROOT, base_env, condition, expand, job_outputs, load, run_job
from tests.infra.cloudrun import test_platform
from tests.infra.cloudrun.test_platform import IMAGE, World, world

__all__ = ["two_models", "world"]  # fixtures

STAGE = "dev"
SERVICE = f"slipway-{STAGE}"  # release.yml: SERVICE is slipway-<stage>
VARS = {
    "SLIPWAY_GCP_PROJECT": test_platform.PROJECT,
    "SLIPWAY_GCP_REGION": test_platform.REGION,
    "SLIPWAY_GCP_REGISTRY": "europe-docker.pkg.dev/acme/r",
    "SLIPWAY_CANARY_STEPS": "0.5,1",
    "SLIPWAY_CANARY_WAIT": "3",
    "SLIPWAY_CANARY_POLL": "1",
}
STAMPED = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "


@pytest.fixture(autouse=True)
def service_of_the_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake serves one service; make it the one release.yml names for this stage.
    monkeypatch.setattr(test_platform, "SERVICE", SERVICE)
    monkeypatch.setenv("CI", "true")  # as on a runner: progress in timestamped lines


def release_argv(model: str, tmp_path: Path) -> list[str]:
    """What release.yml's cloudrun release step runs, as `slipway` arguments."""
    wf = load("release.yml")
    ctx: dict[str, Any] = {
        "github": {"event_name": "workflow_dispatch", "ref_name": "main"},
        "inputs": {"model": model, "target": "cloudrun", "stage": STAGE},
        "vars": VARS,
    }
    (tmp_path / "plan").mkdir(exist_ok=True)
    plan = run_job(wf, "plan", ctx, env=base_env(), workdir=tmp_path / "plan")
    assert not plan.failed, plan.steps[0].stdout
    ctx["needs"] = {"plan": {"outputs": job_outputs(wf, "plan", plan, ctx)}}
    assert condition(wf["jobs"]["cloudrun"]["if"], ctx)
    assert not condition(wf["jobs"]["aws"]["if"], ctx)
    ctx["steps"] = {"push": {"outputs": {"uri": IMAGE}}}  # the push step's output, by digest
    job = wf["jobs"]["cloudrun"]

    def step_argv(step_id: str) -> list[str]:
        step = next(s for s in job["steps"] if s.get("id") == step_id)
        env = {k: expand(str(v), ctx) for k, v in {**job["env"], **step.get("env", {})}.items()}
        (command,) = list(commands(step["run"]))
        return argv_of(command, env)

    # The manifest step writes service.yaml (here: in the test's directory), as on a runner.
    manifest = step_argv("manifest")
    assert manifest[:3] == [".venv/bin/slipway", "cloudrun", "manifest"]
    out = str(tmp_path / "service.yaml")
    assert cli.main([*manifest[1:-1], out] if manifest[-2] == "--out" else []) == 0
    argv = step_argv("release")
    assert argv[:2] == ["bash", "infra/ci/release.sh"]
    assert '"$slipway" release "$@" --json' in (ROOT / "infra/ci/release.sh").read_text()
    argv[argv.index("--manifest") + 1] = out
    return ["release", *argv[2:], "--json"]


def test_cloudrun_release_step_promotes_then_rolls_back_a_spike(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = release_argv("digits@2", tmp_path)
    assert argv[argv.index("--function") + 1] == SERVICE
    assert argv[argv.index("--project") + 1] == test_platform.PROJECT
    assert "--image-uri" not in argv  # the manifest names the image (and the model it bakes)

    # A clean release: half the traffic for the watch window, then all of it.
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    result = json.loads(out.strip().splitlines()[-1])  # after the manifest step's line
    assert result["result"] == "released" and result["exit_code"] == 0
    assert result["version"] == f"{SERVICE}-00002" and result["model"] == "digits@2"
    said = re.findall(r"alias live -> (.+)", err)
    assert said == [f"{SERVICE}-00001 + {SERVICE}-00002 at 0.5", f"{SERVICE}-00002"], err
    assert re.search(STAMPED + rf"step 1/2, .*watching version {SERVICE}-00002: \d+ s left", err)
    assert world.traffic()[0] == (f"{SERVICE}-00002", 100, "live")

    # The next release meets a 5xx spike in its canary: rolled back, exit 3 (the job fails).
    world.metrics.errors[f"{SERVICE}-00003"] = 7
    assert cli.main(release_argv("digits@1", tmp_path)) == 3
    out, err = capsys.readouterr()
    result = json.loads(out.strip().splitlines()[-1])  # after the manifest step's line
    assert result["result"] == "rolled_back" and result["exit_code"] == 3
    assert "7 requests answered 5xx" in result["error"] and "Rolled back" in result["error"]
    assert re.findall(r"alias live -> (.+)", err) == [
        f"{SERVICE}-00002 + {SERVICE}-00003 at 0.5",
        f"{SERVICE}-00002",
    ]
    assert world.traffic()[0] == (f"{SERVICE}-00002", 100, "live")
