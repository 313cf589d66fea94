"""A dry run of release.yml: its `plan` and `aws` jobs' steps, run here as a runner would
(tests/infra/ci/workflow.py), against moto_server on loopback with the real osls, slipway and
AWS CLIs.

What stands in for what the runner would have: the OIDC credentials step (moto's keys and
endpoint in the environment), this checkout's .venv and node_modules for `make setup` and
`npm ci`, and placeholder zips for `slipway build`. Every other step runs as written: the
alarm, the deploy (`npx osls deploy --param model=...` creates or updates the stack, then its
plugin runs `slipway release`: the path every deploy takes, no separate step looks up what
live serves) through `infra/ci/release.sh`, and the status step. moto's Lambda runs no code,
so each smoke invoke answers with what the real prediction function answers for that model
(queued through moto's API); the error spike is Errors datapoints for the new version,
written while the canary holds its share.
"""

from __future__ import annotations

import json
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.aws.conftest import REGION, real_reply, two_models
from tests.infra.aws.helpers import spike_on_canary
from tests.infra.aws.test_cli_moto_server import BIN, client, moto_server, queue
from tests.infra.ci.workflow import (
    ROOT,
    Job,
    base_env,
    condition,
    job_outputs,
    load,
    run_job,
)

__all__ = ["moto_server", "two_models"]  # fixtures

STAGE = "dev"
FUNCTION = f"slipway-{STAGE}-predict"
SKIP = {
    "install": "make setup + npm ci: this checkout's .venv and node_modules (test_commands)",
    "build": "slipway build fetches the layer's wheels from PyPI (tests/infra/build builds it)",
}
STAMPED = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "  # infra/progress.py's plain lines (CI=true)


@dataclass
class World:
    endpoint: str
    store: Path
    tmp: Path
    runs: int = 0

    def client(self, service: str) -> Any:
        return client(self.endpoint, service, REGION)

    def alias(self) -> dict[str, Any]:
        found: dict[str, Any] = self.client("lambda").get_alias(FunctionName=FUNCTION, Name="live")
        return found

    def env(self) -> dict[str, str]:
        # What aws-actions/configure-aws-credentials leaves: region and credentials.
        return base_env(
            {
                "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_CONFIG_FILE": str(self.tmp / "no-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "no-credentials"),
                "SLIPWAY_METRICS": "off",
                "SLS_AWS_MONITORING_FREQUENCY": "200",  # osls's stack polling, 5 s by default
            }
        )

    def checkout(self, workdir: Path) -> None:
        """The runner's working directory: this checkout, and what `slipway build` leaves."""
        workdir.mkdir()
        (workdir / "serverless.yml").write_bytes((ROOT / "serverless.yml").read_bytes())
        for name in (".venv", "infra", "node_modules"):
            (workdir / name).symlink_to(ROOT / name)
        build = workdir / "build" / "3.12-arm64"
        build.mkdir(parents=True)
        for name in ("function.zip", "layer.zip"):
            with zipfile.ZipFile(build / name, "w") as zf:
                zf.writestr(zipfile.ZipInfo("handler.py", (1980, 1, 1, 0, 0, 0)), name)

    def release(self, model: str, *, target: str = "aws") -> tuple[Job, Job | None]:
        """Dispatch release.yml: the plan job, then the job its target selects."""
        self.runs += 1
        workdir = self.tmp / f"run-{self.runs}"
        self.checkout(workdir)
        wf = load("release.yml")
        ctx: dict[str, Any] = {
            "github": {"event_name": "workflow_dispatch", "ref_name": "main", "run_id": "7"},
            "inputs": {"model": model, "target": target, "stage": STAGE},
            "vars": {
                "SLIPWAY_AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/slipway-dev-github-deploy",
                "SLIPWAY_AWS_REGION": REGION,
                "SLIPWAY_MODEL_STORE": str(self.store),
                "SLIPWAY_CANARY_STEPS": "0.5,1",
                "SLIPWAY_CANARY_WAIT": "3",
                "SLIPWAY_CANARY_POLL": "1",
            },
        }
        plan = run_job(wf, "plan", ctx, env=self.env(), workdir=workdir)
        if plan.failed:
            return plan, None
        ctx["needs"] = {"plan": {"outputs": job_outputs(wf, "plan", plan, ctx)}}
        assert not condition(wf["jobs"]["cloudrun"]["if"], ctx)
        assert condition(wf["jobs"]["aws"]["if"], ctx)
        queue(self.endpoint, real_reply(self.store, model))  # the smoke invoke's answer
        job = run_job(wf, "aws", ctx, env=self.env(), workdir=workdir, skip=SKIP, timeout=300)
        return plan, job


@pytest.fixture
def world(moto_server: str, two_models: Path, tmp_path: Path) -> World:  # noqa: F811
    return World(moto_server, two_models, tmp_path)


def ran(job: Job) -> list[str]:
    return [s.id or s.name for s in job.steps if s.ran]


def log(job: Job, step: str) -> str:
    """What the step printed, as the job's log shows it (osls and slipway write to stderr)."""
    found = job.step(step)
    return found.stdout + found.stderr


def test_release_job_deploys_promotes_then_rolls_back_a_spike_and_fails(world: World) -> None:
    # 1. The first run: the deploy creates the stack, and `live` at the released version.
    _, job = world.release("digits@1")
    assert job is not None and not job.failed, [
        (s.name, (s.stdout + s.stderr)[-2000:]) for s in job.steps
    ]
    assert ran(job) == ["alarm", "release", "status"]
    release = job.step("release")
    assert release.outputs == {"result": "released", "version": "1", "exit-code": "0"}
    assert "create alias live -> the new version (first release: no canary)" in log(job, "release")
    assert world.alias()["FunctionVersion"] == "1"
    alarms = world.client("cloudwatch").describe_alarms(AlarmNames=[f"slipway-{STAGE}-live-errors"])
    assert alarms["MetricAlarms"][0]["Dimensions"][1] == {
        "Name": "Resource",
        "Value": f"{FUNCTION}:live",
    }

    # 2. A clean release: the canary holds half of live for its watch window, then promotes.
    _, job = world.release("digits@2")
    assert job is not None and not job.failed, [
        (s.name, (s.stdout + s.stderr)[-2000:]) for s in job.steps
    ]
    release, out = job.step("release"), log(job, "release")
    said = re.findall(r"^alias live -> (.+)$", out, re.M)
    assert said == ["1 + 2 at 0.5", "2"], out
    # The watch, in CI's plain timestamped lines, with the time left in each window.
    assert re.search(
        STAMPED + r"step 1/2, live -> 1 \+ 2 at 0\.5: watching version 2: \d+ s left \(no errors\)",
        out,
    ), out
    assert re.search(STAMPED + r"step 2/2, live -> 2: watching version 2: 0 s left", out)
    assert "alarm slipway-dev-live-errors" in out  # the deploy's --param alarms
    result = json.loads((world.tmp / "run-2" / "release.json").read_text())
    assert result["result"] == "released" and result["version"] == "2"
    assert result["model"] == "digits@2" and result["previous"] == "1"
    assert "### slipway release: released (exit 0)" in release.summary
    assert world.alias()["FunctionVersion"] == "2"
    assert not world.alias().get("RoutingConfig", {}).get("AdditionalVersionWeights")

    # 3. A release whose canary meets an error spike: rolled back, and the job fails.
    fired = threading.Event()
    spike = spike_on_canary(world.client("lambda"), world.client("cloudwatch"), FUNCTION, fired)
    _, job = world.release("digits@1")  # a new version 3 pinning digits@1
    spike.join(10)
    assert fired.is_set(), "the canary never took traffic"
    assert job is not None and job.failed
    release, out = job.step("release"), log(job, "release")
    assert release.code == 3, out
    assert release.outputs == {"result": "rolled_back", "version": "", "exit-code": "3"}
    assert re.findall(r"^alias live -> (.+)$", out, re.M) == ["2 + 3 at 0.5", "2"]
    assert "(signal fired)" in out
    annotation = re.search(
        r"^::error title=slipway release: rolled_back::(.+)$", release.stdout, re.M
    )
    assert annotation, release.stdout
    assert annotation.group(1).startswith(
        "version 3 (digits@1) failed while taking 0.5 of live: AWS/Lambda Errors for "
        f"ExecutedVersion 3 on {FUNCTION}:live = 7"
    )
    assert "Rolled back: alias live points at 2 again" in annotation.group(1)
    assert "### slipway release: rolled_back (exit 3)" in release.summary
    # The status step runs after the failure (if: always()) and shows live back on 2.
    status = job.step("status")
    assert status.ran and status.code == 0
    assert world.alias()["FunctionVersion"] == "2"
    assert not world.alias().get("RoutingConfig", {}).get("AdditionalVersionWeights")


def test_plan_job_refuses_a_model_that_is_not_name_at_version(tmp_path: Path) -> None:
    # The plan job needs no cloud: a world without moto_server behind it.
    plan, job = World("http://127.0.0.1:9", Path("unused"), tmp_path).release("digits; rm -rf /")
    assert job is None and plan.failed
    step = plan.step("inputs")
    assert (
        "::error::model must be NAME@VERSION (e.g. digits@3), got 'digits; rm -rf /'" in step.stdout
    )
