"""`slipway release --json`, the object a pipeline reads: stdout is exactly one JSON object
(progress and the plan go to stderr) for a release, a dry run, a rollback, a refusal and an
error outside the engine, with the exit code in it (moto's AWS in process, as
tests/infra/aws does)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from model_store.exceptions import ModelNotFound
from tests.infra.aws.conftest import FUNCTION, queue_reply, real_reply, two_models, world
from tests.infra.aws.helpers import run
from tests.infra.aws.test_release import FAST, put_errors

__all__ = ["two_models", "world"]  # fixtures


@pytest.fixture
def release(world: dict[str, Any], two_models: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    def go(model: str, *extra: str, smoke: bool = True) -> tuple[int, dict[str, Any], str]:
        if smoke:
            queue_reply(real_reply(two_models, model))
        capsys.readouterr()  # computing the smoke reply logs the model's load to stdout
        code = run(
            world["aws"], "release", "--model", model, *FAST, "--json", *extra, store=two_models
        )
        out, err = capsys.readouterr()
        (line,) = out.splitlines()  # one object, nothing else on stdout
        found: dict[str, Any] = json.loads(line)
        assert found["exit_code"] == code
        return code, found, err

    return go


def test_released_dry_run_and_rolled_back_as_json(world: dict[str, Any], release: Any) -> None:
    code, found, err = release("digits@1")
    assert code == 0
    assert found == {
        "result": "released",
        "platform": "aws",
        "function": FUNCTION,
        "alias": "live",
        "version": "1",
        "model": "digits@1",
        "sha256": found["sha256"],
        "previous": None,
        "exit_code": 0,
    }
    assert len(found["sha256"]) == 64
    assert "plan:" in err and "alias live -> 1" in err

    code, found, err = release("digits@2", "--dry-run", smoke=False)
    assert code == 0 and found["result"] == "dry_run"
    assert any("smoke-invoke" in line for line in found["plan"])
    assert "plan (dry run):" in err

    world["sleeps"].hooks.append(lambda: put_errors(world, "2", 3))
    code, found, err = release("digits@2")
    assert code == 3 and found["result"] == "rolled_back"
    assert found["error"].startswith("version 2 (digits@2) failed while taking 0.1 of live")
    assert "slipway release: error: version 2" in err


def test_refused_and_error_results(
    world: dict[str, Any], two_models: Path, release: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, found, _ = release("digits@1", "--steps", "0.5", smoke=False)
    assert code == 1 and found["result"] == "refused"
    assert "--steps '0.5'" in found["error"]
    # A model the store does not have is the store's error: the JSON says so, and the error
    # goes on to the CLI, which prints it and exits 1 (infra.cli.main).
    with pytest.raises(ModelNotFound):
        run(world["aws"], "release", "--model", "digits@9", "--json", store=two_models)
    (line,) = capsys.readouterr().out.splitlines()
    found = json.loads(line)
    assert found["result"] == "error" and found["exit_code"] == 1
    assert "digits@9 does not exist" in found["error"]
