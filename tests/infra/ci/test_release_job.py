"""A dry run of release.yml: its `plan` and `aws` jobs' steps, run here as a runner would
(tests/infra/ci/workflow.py), against moto_server on loopback with the real slipway and AWS
CLIs.

What stands in for what the runner would have: the OIDC credentials step (moto's keys and
endpoint in the environment), this checkout's .venv for `make setup` and `slipway build`, and
a moto CloudFormation stack with the model bucket (named as CloudFormation names it) plus the
function for `osls deploy`. Every other step runs as written: the stack lookup, the live
model, the alarm, `infra/ci/release.sh` and the status step. moto's Lambda runs no code, so
each smoke invoke answers with what the real prediction function answers for that model
(queued through moto's API); the error spike is Errors datapoints for the new version,
written while the canary holds its share.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from model_store.backends.local import LocalStore
from tests.infra.aws.conftest import REGION, TRUST, function_zip, real_reply, two_models
from tests.infra.aws.test_cli_moto_server import BIN, moto_server, queue
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
STACK = {
    "Resources": {
        "ModelBucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
        }
    },
    "Outputs": {
        "ModelStoreUri": {"Value": {"Fn::Join": ["", ["s3://", {"Ref": "ModelBucket"}, "/models"]]}}
    },
}
SKIP = {
    "install": "make setup + npm ci: this checkout's .venv and node_modules (test_commands)",
    "build": "slipway build fetches the layer's wheels from PyPI (tests/infra/build builds it)",
    "deploy": "osls deploy: moto's stack and function stand in (tests/serverless packages it)",
}
STAMPED = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "  # infra/progress.py's plain lines (CI=true)


@dataclass
class World:
    endpoint: str
    store: Path
    tmp: Path
    runs: int = 0

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

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
            }
        )

    def release(self, model: str, *, target: str = "aws") -> tuple[Job, Job | None]:
        """Dispatch release.yml: the plan job, then the job its target selects."""
        self.runs += 1
        workdir = self.tmp / f"run-{self.runs}"
        workdir.mkdir()
        for name in (".venv", "infra"):  # the checkout, as the runner's working directory
            (workdir / name).symlink_to(ROOT / name)
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
        job = run_job(wf, "aws", ctx, env=self.env(), workdir=workdir, skip=SKIP)
        return plan, job


@pytest.fixture
def world(moto_server: str, two_models: Path, tmp_path: Path) -> World:  # noqa: F811
    w = World(moto_server, two_models, tmp_path)
    w.client("cloudformation").create_stack(
        StackName=f"slipway-{STAGE}", TemplateBody=json.dumps(STACK)
    )
    role = w.client("iam").create_role(
        RoleName=f"slipway-{STAGE}-{REGION}-lambdaRole", AssumeRolePolicyDocument=json.dumps(TRUST)
    )
    w.client("lambda").create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="functions/predict/handler.handler",
        Code={"ZipFile": function_zip()},
    )
    return w


def start_spike(world: World, fired: threading.Event) -> threading.Thread:
    lam, cloudwatch = world.client("lambda"), world.client("cloudwatch")

    def watch() -> None:
        for _ in range(600):
            weights = lam.get_alias(FunctionName=FUNCTION, Name="live").get("RoutingConfig")
            canary = list((weights or {}).get("AdditionalVersionWeights", {}))
            if canary:
                dims = {
                    "FunctionName": FUNCTION,
                    "Resource": f"{FUNCTION}:live",
                    "ExecutedVersion": canary[0],
                }
                cloudwatch.put_metric_data(
                    Namespace="AWS/Lambda",
                    MetricData=[
                        {
                            "MetricName": "Errors",
                            "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                            "Timestamp": datetime.now(UTC),
                            "Value": 7,
                            "Unit": "Count",
                        }
                    ],
                )
                fired.set()
                return
            threading.Event().wait(0.1)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def ran(job: Job) -> list[str]:
    return [s.id or s.name for s in job.steps if s.ran]


def test_release_job_promotes_then_rolls_back_a_spike_and_fails(world: World) -> None:
    # 1. The first release: no alias yet, so `live` is created at the new version.
    _, job = world.release("digits@1")
    assert job is not None and not job.failed, [(s.name, s.stderr[-800:]) for s in job.steps]
    assert ran(job) == ["stack", "live", "alarm", "release", "status"]
    assert job.step("stack").outputs["store"].startswith(f"s3://slipway-{STAGE}-modelbucket-")
    assert job.step("release").outputs == {"result": "released", "version": "1", "exit-code": "0"}
    assert world.alias()["FunctionVersion"] == "1"
    alarms = world.client("cloudwatch").describe_alarms(AlarmNames=[f"slipway-{STAGE}-live-errors"])
    assert alarms["MetricAlarms"][0]["Dimensions"][1] == {
        "Name": "Resource",
        "Value": f"{FUNCTION}:live",
    }

    # 2. A clean release: the canary holds half of live for its watch window, then promotes.
    _, job = world.release("digits@2")
    assert job is not None and not job.failed, [(s.name, s.stderr[-800:]) for s in job.steps]
    step = job.step("live")
    # What the deploy step would pass as --param model/modelSha256: what live serves.
    served = LocalStore(world.store).manifest("digits", 1)
    assert step.outputs == {"model": "digits@1", "sha256": served.sha256}
    release = job.step("release")
    said = re.findall(r"alias live -> (.+)", release.stderr)
    assert said == ["1 + 2 at 0.5", "2"], release.stderr
    # The watch, in CI's plain timestamped lines, with the time left in each window.
    assert re.search(
        STAMPED + r"step 1/2, live -> 1 \+ 2 at 0\.5: watching version 2: \d+ s left \(no errors\)",
        release.stderr,
    ), release.stderr
    assert re.search(STAMPED + r"step 2/2, live -> 2: watching version 2: 0 s left", release.stderr)
    result = json.loads((world.tmp / "run-2" / "release.json").read_text())
    assert result["result"] == "released" and result["version"] == "2"
    assert result["model"] == "digits@2" and result["previous"] == "1"
    assert "### slipway release: released (exit 0)" in release.summary
    assert world.alias()["FunctionVersion"] == "2"
    assert not world.alias().get("RoutingConfig", {}).get("AdditionalVersionWeights")

    # 3. A release whose canary meets an error spike: rolled back, and the job fails.
    fired = threading.Event()
    spike = start_spike(world, fired)
    _, job = world.release("digits@1")  # a new version 3 pinning digits@1
    spike.join(10)
    assert fired.is_set(), "the canary never took traffic"
    assert job is not None and job.failed
    release = job.step("release")
    assert release.code == 3, release.stderr
    assert release.outputs == {"result": "rolled_back", "version": "", "exit-code": "3"}
    assert re.findall(r"alias live -> (.+)", release.stderr) == ["2 + 3 at 0.5", "2"]
    assert "(signal fired)" in release.stderr
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
