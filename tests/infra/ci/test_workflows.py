"""The workflows as GitHub would read them: actionlint (with shellcheck), pinned actions, the
permissions and concurrency each job has, and OIDC as the only way to cloud credentials."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.ci.workflow import WORKFLOWS, load, workflows

ACTIONLINT = Path(sys.executable).parent / "actionlint"
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s+([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # v\d+\.\d+\.\d+$")
CLOUD_JOBS = {"aws", "cloudrun"}


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: make ci-tools (infra/ci/system-packages.sh)"
    return subprocess.run(
        [str(ACTIONLINT), "-shellcheck", shellcheck, "-no-color", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_actionlint_with_shellcheck_passes_every_workflow() -> None:
    found = workflows()
    assert {p.name for p in found} >= {"ci.yml", "release.yml"}
    done = actionlint(*found)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    # The same check on a release.yml with an unquoted variable and an unknown context: it
    # must fail, or the check above proves nothing (and shellcheck must be what finds SC2086).
    broken = (WORKFLOWS / "release.yml").read_text()
    broken = broken.replace('--model "$MODEL" --manifest', "--model $MODEL --manifest", 1)
    broken = broken.replace("${{ vars.SLIPWAY_AWS_REGION }}", "${{ var.SLIPWAY_AWS_REGION }}", 1)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    path = tmp_path / ".github" / "workflows" / "release.yml"
    path.write_text(broken)
    done = actionlint(path)
    assert done.returncode == 1
    assert "SC2086" in done.stdout and 'undefined variable "var"' in done.stdout, done.stdout


def test_every_action_is_pinned_by_commit_sha_with_its_version() -> None:
    for path in workflows():
        lines = [ln for ln in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", ln)]
        assert lines, path
        for ln in lines:
            assert PINNED.match(ln), f"{path.name}: not pinned by SHA with a # vX.Y.Z: {ln}"


def _permissions(job: dict[str, Any], workflow: dict[str, Any]) -> dict[str, str]:
    return dict(job.get("permissions", workflow.get("permissions")) or {})


def test_least_privilege_and_id_token_only_where_credentials_are_minted() -> None:
    for path in workflows():
        wf = load(path.name)
        assert wf["permissions"] == {"contents": "read"}, path.name
        for name, job in wf["jobs"].items():
            perms = _permissions(job, wf)
            assert set(perms.values()) <= {"read", "write"}
            writes = {k for k, v in perms.items() if v == "write"}
            if name in CLOUD_JOBS and path.name == "release.yml":
                assert writes == {"id-token"}, (path.name, name, perms)
            else:
                assert writes == set(), (path.name, name, perms)


def test_ci_runs_make_test_with_caches_keyed_on_the_lock_files() -> None:
    wf = load("ci.yml")
    assert set(wf["on"]) == {"push", "pull_request"}
    steps = wf["jobs"]["test"]["steps"]
    assert [s["run"] for s in steps if "run" in s] == ["make test"]
    withs = {s["uses"].split("@")[0]: s.get("with", {}) for s in steps if "uses" in s}
    assert withs["actions/setup-python"]["cache"] == "pip"
    assert withs["actions/setup-python"]["cache-dependency-path"].split() == [
        "pyproject.toml",
        "layers/*.txt",
    ]
    assert withs["actions/setup-node"]["cache-dependency-path"] == "package-lock.json"
    assert "hashFiles('infra/image/base.py'" in withs["actions/cache"]["key"]
    assert withs["actions/cache"]["path"] == "build/image-base"


def test_release_inputs_concurrency_environment_and_oidc() -> None:
    wf = load("release.yml")
    # No key or secret anywhere: credentials come from the OIDC token only.
    assert "secrets." not in (WORKFLOWS / "release.yml").read_text()
    inputs = wf["on"]["workflow_dispatch"]["inputs"]
    assert set(inputs) == {"model", "target", "stage"}
    assert inputs["target"]["options"] == ["aws", "cloudrun"]
    assert wf["on"]["push"]["tags"] == ["model/*@*"]
    for name in CLOUD_JOBS:
        job = wf["jobs"][name]
        assert job["environment"] == "${{ needs.plan.outputs.stage }}"
        assert job["concurrency"] == {
            "group": "release-${{ needs.plan.outputs.stage }}",
            "cancel-in-progress": False,
        }
        steps = job["steps"]
        creds = [
            s
            for s in steps
            if s.get("uses", "").startswith(
                ("aws-actions/configure-aws-credentials", "google-github-actions/auth")
            )
        ]
        assert len(creds) == 1, name
        with_ = creds[0]["with"]
        if name == "aws":
            assert with_["role-to-assume"] == "${{ vars.SLIPWAY_AWS_ROLE_ARN }}"
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(with_)
        else:
            assert set(with_) == {"workload_identity_provider", "service_account"}
        # The release step is the one that decides the job: infra/ci/release.sh, no `|| true`.
        # On AWS it is the deploy, which is the release (no separate step moves live).
        release = next(s for s in steps if s.get("id") == "release")
        via = "deploy --stage" if name == "aws" else "--target " + name
        assert release["run"].lstrip().startswith("bash infra/ci/release.sh " + via)
        assert "|| true" not in release["run"] and "continue-on-error" not in release
        moves = ("osls deploy", "bin/slipway release", "slipway alias", "slipway rollback")
        others = [
            s.get("id")
            for s in steps
            if s is not release and any(m in s.get("run", "") for m in moves)
        ]
        assert others == [], others


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_no_untrusted_input_is_expanded_inside_a_script(name: str) -> None:
    # Inputs and tag names reach scripts through env only (never `${{ }}` inside `run:`).
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), (name, step.get("name"))
