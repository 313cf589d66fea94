"""`npx osls deploy` is a guarded release: the pinned osls deploys serverless.yml to moto_server
on loopback, and its plugin (infra/build/osls_release.js) hands `live` to the real
`slipway release --target aws`.

Nothing stands in for osls, CloudFormation's change sets, the plugin or slipway: moto_server
runs the stack (tests/infra/aws/motoserver.py fills the CloudFormation gaps a deploy meets),
placeholder zips are the code (a new one is new code), and the two-model store of
tests/infra/aws is what `--param model=` names. moto's Lambda runs no code, so each smoke
invoke answers what the real prediction function answers for that model (queued through
moto's API), or an init failure; a version failing under traffic is Errors datapoints for it,
written while it holds its canary share. After every deploy: `slipway status --target aws`,
the alias and the stack agree, and the alias's history is intact.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from infra.aws.history import History
from tests.docs.blocks import blocks, masked, shown_lines
from tests.infra.aws.conftest import real_reply, two_models
from tests.infra.aws.helpers import spike_on_canary
from tests.infra.aws.test_cli_moto_server import BIN, client, moto_server, queue
from tests.serverless.conftest import OSLS, ROOT, _ensure_osls

__all__ = ["moto_server", "two_models"]  # fixtures

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

STAGE, REGION = "prod", "eu-west-1"
FUNCTION = f"slipway-{STAGE}-predict"
STACK = f"slipway-{STAGE}"
# What the README shows was run: a short watch, so the run takes seconds.
FAST = ("--param", "canarySteps=0.5,1", "--param", "canaryWait=2", "--param", "canaryPoll=1")
INIT_FAILED = {
    "errorType": "Runtime.ImportModuleError",
    "errorMessage": "Unable to import module 'functions/predict/handler': No module named 'numpy'",
}


@dataclass
class Deployed:
    code: int
    out: str  # osls's and slipway's output, as a terminal shows it

    def said(self) -> list[str]:
        return re.findall(r"^alias live -> (.+)$", self.out, re.M)


@dataclass
class Stage:
    """A service directory (serverless.yml and the plugin linked from this checkout, its own
    build/) deployed to one moto_server."""

    endpoint: str
    store: Path
    dir: Path
    deploys: list[Deployed] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLIPWAY_"))}
        return keep | {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.dir / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.dir / "no-credentials"),
            "SLIPWAY_STORE": str(self.store),
            "SLIPWAY_BIN": str(BIN / "slipway"),
            "SLIPWAY_METRICS": "off",
            "SLS_AWS_MONITORING_FREQUENCY": "200",  # osls's stack polling, 5 s by default
            "CI": "true",  # slipway's progress as timestamped lines
        }

    def code(self, text: str) -> None:
        """The function zip (new text, new code), dated so the same text is the same zip."""
        build = self.dir / "build" / "3.12-arm64"
        build.mkdir(parents=True, exist_ok=True)
        for name, body in (("function.zip", text), ("layer.zip", "python/")):
            with zipfile.ZipFile(build / name, "w") as zf:
                zf.writestr(zipfile.ZipInfo("handler.py", (1980, 1, 1, 0, 0, 0)), body)

    def deploy(self, *args: str, reply: Any = None) -> Deployed:
        """`npx osls deploy --stage prod --region eu-west-1 ARGS`; `reply` is what the new
        version's smoke invoke gets (a model ref: the real function's answer for it)."""
        if reply is not None:
            answer = real_reply(self.store, reply) if isinstance(reply, str) else reply
            queue(self.endpoint, answer, region=REGION)
        argv = [str(OSLS), "deploy", "--stage", STAGE, "--region", REGION, *args]
        done = subprocess.run(
            argv,
            cwd=self.dir,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=300,
            check=False,
        )
        self.deploys.append(Deployed(done.returncode, done.stdout))
        return self.deploys[-1]

    def client(self, service: str) -> Any:
        return client(self.endpoint, service, REGION)

    def alias(self) -> dict[str, Any]:
        found: dict[str, Any] = self.client("lambda").get_alias(FunctionName=FUNCTION, Name="live")
        found.pop("ResponseMetadata", None)
        return found

    def versions(self) -> list[str]:
        pages = self.client("lambda").get_paginator("list_versions_by_function")
        found = [v["Version"] for p in pages.paginate(FunctionName=FUNCTION) for v in p["Versions"]]
        return [v for v in found if v != "$LATEST"]

    def model_of(self, version: str) -> str:
        config = self.client("lambda").get_function_configuration(
            FunctionName=FUNCTION, Qualifier=version
        )
        uri: str = config["Environment"]["Variables"]["SLIPWAY_MODEL"]
        return "@".join(uri.rsplit("/", 2)[1:])

    def slipway(self, *argv: str) -> str:
        env = self.env() | {"AWS_REGION": REGION, "SLIPWAY_STAGE": STAGE}
        done = subprocess.run(
            [str(BIN / "slipway"), *argv, "--target", "aws"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def history(self) -> History:
        return History.decode(self.alias().get("Description"))

    def agree(self) -> dict[str, Any]:
        """`slipway status` and the alias agree on what live serves, and the stack makes no
        claim of its own that could disagree: no alias or version of predict among its
        resources, no model in its parameters or the function's environment; its
        LiveAliasArn output is the alias status reports. Returns the status."""
        status = json.loads(self.slipway("status", "--json"))
        (live,) = [a for a in status["aliases"] if a["name"] == "live"]
        alias = self.alias()
        assert live["version"] == alias["FunctionVersion"]
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        assert live["canary"] is None and not weights  # no deploy leaves a half-shifted alias
        served = {v["version"]: v["model"] for v in status["versions"]}
        assert served[live["version"]] == self.model_of(alias["FunctionVersion"])
        cfn = self.client("cloudformation")
        body = cfn.get_template(StackName=STACK)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        kinds = {r["Type"] for r in template["Resources"].values()}
        assert not kinds & {"AWS::Lambda::Alias", "AWS::Lambda::Version"}, kinds
        fn = template["Resources"]["PredictLambdaFunction"]["Properties"]
        assert not {"SLIPWAY_MODEL", "SLIPWAY_MODEL_SHA256"} & set(fn["Environment"]["Variables"])
        (stack,) = cfn.describe_stacks(StackName=STACK)["Stacks"]
        params = {p["ParameterKey"] for p in stack.get("Parameters", [])}
        assert not {"ModelRef", "ModelSha256"} & params, params  # what the stack said before
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["LiveAliasArn"] == alias["AliasArn"]
        return status


@pytest.fixture
def stage(moto_server: str, two_models: Path, tmp_path: Path) -> Iterator[Stage]:  # noqa: F811
    _ensure_osls()
    service = tmp_path / "service"
    service.mkdir()
    # osls wants the file itself in its service directory; the plugin's tree is linked.
    (service / "serverless.yml").write_bytes((ROOT / "serverless.yml").read_bytes())
    for name in ("infra", "node_modules"):
        (service / name).symlink_to(ROOT / name)
    s = Stage(moto_server, two_models, service)
    s.code("v1")
    yield s


def first(stage: Stage) -> None:
    done = stage.deploy("--param", "model=digits@1", reply="digits@1")
    assert done.code == 0, done.out
    assert "create alias live -> the new version (first release: no canary)" in done.out
    assert stage.alias()["FunctionVersion"] == "1" and stage.model_of("1") == "digits@1"
    stage.agree()


def test_deploys_release_in_steps_keep_the_model_and_a_rollback(stage: Stage) -> None:
    first(stage)
    since = stage.history()

    # Nothing changed: nothing is published, live stays, its history too.
    done = stage.deploy()
    assert done.code == 0, done.out
    assert "nothing to release: alias live -> version 1, which pins this code" in done.out
    assert stage.versions() == ["1"] and stage.history() == since

    # New code, no model named: the model live serves stays; live moves in steps.
    stage.code("v2")
    done = stage.deploy(*FAST, reply="digits@1")
    assert done.code == 0, done.out
    assert "model: digits@1, what alias live serves now (no --model: it stays)" in done.out
    assert "version 2 answered the smoke invoke with digits@1" in done.out
    assert done.said() == ["1 + 2 at 0.5", "2"]
    assert stage.model_of("2") == "digits@1"
    assert [e.target.token() for e in stage.history().earlier] == ["1"]
    stage.agree()

    # A model named: a release of that model, on the code deployed.
    done = stage.deploy(*FAST, "--param", "model=digits@2", reply="digits@2")
    assert done.code == 0 and done.said() == ["2 + 3 at 0.5", "3"], done.out
    assert stage.model_of("3") == "digits@2"

    # `slipway rollback` undoes it; a deploy that changes nothing keeps the rollback (here
    # the code and the model are version 2's again: it is live's own).
    assert "-> 2 (rolled back)" in stage.slipway("rollback", "live")
    rolled = stage.history()
    done = stage.deploy(*FAST)
    assert done.code == 0, done.out
    assert "nothing to release: alias live -> version 2, which pins this code" in done.out
    assert stage.versions() == ["1", "2", "3"] and stage.history() == rolled
    status = stage.agree()
    assert [h["target"] for h in status["aliases"][0]["history"]] == ["1"]

    # New code after the rollback: released with the model live serves (digits@1).
    stage.code("v3")
    done = stage.deploy(*FAST, reply="digits@1")
    assert done.code == 0 and done.said() == ["2 + 4 at 0.5", "4"], done.out
    assert stage.model_of("4") == "digits@1"
    # `slipway rollback` undoes the last change whichever verb made it: this deploy's. The
    # next deploy changes nothing: the code is version 4's, which live no longer serves, and
    # it stays that way; the deploy says how to release version 4 after all.
    assert "-> 2 (rolled back)" in stage.slipway("rollback", "live")
    rolled = stage.history()
    done = stage.deploy(*FAST)
    assert done.code == 0, done.out
    assert (
        "nothing to release: the code and configuration are version 4's, published before; "
        "alias live stays on 2 (version 4, digits@1, was published but live does not serve "
        "it; to release it, name its model: --model digits@1, or on a deploy --param "
        "model=digits@1)"
    ) in done.out
    assert stage.alias()["FunctionVersion"] == "2" and stage.versions() == ["1", "2", "3", "4"]
    assert stage.history() == rolled
    stage.agree()


def test_a_failing_smoke_invoke_or_canary_leaves_live_and_fails_the_deploy(stage: Stage) -> None:
    first(stage)
    before = stage.alias()

    # New code whose init fails: the smoke invoke of version 2 catches it, nothing moves.
    stage.code("v2 broken")
    done = stage.deploy(*FAST, reply=INIT_FAILED)
    assert done.code != 0
    assert "did not answer the smoke invoke like the prediction function" in done.out
    assert "No traffic moved: alias live still points at 1" in done.out
    assert "the release failed (refused, slipway exit 1)" in done.out
    assert stage.alias() == before

    # New code that fails under traffic: rolled back on its own, and the deploy says why.
    stage.code("v3 fails under load")
    fired = threading.Event()
    spike = spike_on_canary(stage.client("lambda"), stage.client("cloudwatch"), FUNCTION, fired)
    done = stage.deploy(*FAST, reply="digits@1")
    spike.join(10)
    assert fired.is_set(), done.out
    assert done.code != 0
    assert done.said() == ["1 + 3 at 0.5", "1"], done.out
    assert "the release rolled back (rolled_back, slipway exit 3)" in done.out
    assert f"AWS/Lambda Errors for ExecutedVersion 3 on {FUNCTION}:live = 7" in done.out
    assert "Rolled back: alias live points at 1 again" in done.out
    assert stage.alias()["FunctionVersion"] == "1"
    assert stage.history() == History.decode(before["Description"])
    stage.agree()


def test_bad_parameters_are_refused_before_the_stack_changes_and_instant_is_loud(
    stage: Stage,
) -> None:
    first(stage)
    stage.code("v2")
    for args, said in (
        (("--param", "modelSha256=" + "0" * 64), "--param modelSha256 is gone"),
        (("--param", "release=fast"), "--param release=fast: use guarded or instant"),
        (("--param", "model=digits"), "--param model=digits: give NAME@VERSION"),
    ):
        done = stage.deploy(*args)
        assert done.code != 0 and said in done.out, done.out
    assert stage.versions() == ["1"]
    code = stage.client("lambda").get_function_configuration(FunctionName=FUNCTION)
    assert (
        code["CodeSha256"]
        == stage.client("lambda").get_function_configuration(FunctionName=FUNCTION, Qualifier="1")[
            "CodeSha256"
        ]
    )  # the stack was not updated: the new zip is not there

    done = stage.deploy("--param", "release=instant")
    assert done.code == 0, done.out
    assert "!! --param release=instant: UNGUARDED." in done.out
    assert "no smoke invoke (--skip-smoke)" in done.out and done.said() == ["2"]
    stage.agree()


def test_the_readme_shows_a_real_deploy_of_each_kind(stage: Stage) -> None:
    """The README's deploy output is what `npx osls deploy` printed here: a clean release, and
    one that rolled back (digests, times and the bucket's random suffix aside)."""
    first(stage)
    stage.code("v2")
    clean = stage.deploy(*FAST, reply="digits@1")
    stage.code("v3")
    fired = threading.Event()
    spike = spike_on_canary(stage.client("lambda"), stage.client("cloudwatch"), FUNCTION, fired)
    rolled = stage.deploy(*FAST, reply="digits@1")
    spike.join(10)
    assert clean.code == 0 and rolled.code != 0
    (shown,) = [
        b for b in blocks(ROOT / "README.md", ROOT) if b.lang == "text" and "osls deploy" in b.code
    ]
    runs = re.split(r"^\$ ", shown.code, flags=re.M)[1:]
    assert len(runs) == 2, "the README shows two deploys: a clean one, one rolled back"
    for run, real in zip(runs, (clean, rolled), strict=True):
        command, _, output = run.partition("\n")
        assert command.split() == [
            "npx",
            "osls",
            "deploy",
            "--stage",
            STAGE,
            "--region",
            REGION,
            *FAST,
        ]
        lines = [_varying(masked(ln)) for ln in real.out.splitlines()]
        at = 0
        for line in shown_lines(output):
            line = _varying(line)
            found = [i for i, ln in enumerate(lines[at:], at) if ln == line]
            assert found, f"README shows {line!r}, which the deploy did not print:\n{real.out}"
            at = found[0] + 1


def _varying(line: str) -> str:
    """Also blank what differs from run to run here: the bucket's suffix, osls's seconds."""
    line = re.sub(r"modelbucket-[a-z0-9]+", "modelbucket-<id>", line)
    return re.sub(r"\(\d+s\)$", "(<n>s)", line)
