from __future__ import annotations

import json
from typing import Any

import pytest

from infra.aws.history import History
from tests.infra.aws.conftest import FUNCTION
from tests.infra.aws.helpers import run


def publish_two(world: dict[str, Any], store: Any) -> None:
    assert run(world["aws"], "publish", "--model", "digits@1", store=store) == 0
    assert run(world["aws"], "publish", "--model", "digits@2", store=store) == 0


def alias(world: dict[str, Any], name: str = "live") -> dict[str, Any]:
    found: dict[str, Any] = world["lambda"].get_alias(FunctionName=FUNCTION, Name=name)
    return found


def test_alias_set_canary_and_rollback_keep_history_in_aws(world, two_models, capsys) -> None:
    publish_two(world, two_models)
    aws = world["aws"]
    assert run(aws, "alias", "set", "live", "1") == 0
    assert alias(world)["FunctionVersion"] == "1"
    assert run(aws, "alias", "set", "live", "1", "--canary", "2", "--weight", "0.25") == 0
    live = alias(world)
    assert live["FunctionVersion"] == "1"
    assert live["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.25}
    assert run(aws, "alias", "set", "live", "2") == 0
    live = alias(world)
    assert live["FunctionVersion"] == "2" and not live["RoutingConfig"]["AdditionalVersionWeights"]
    history = History.decode(live["Description"])
    assert [e.target.token() for e in history.earlier] == ["1", "1+2:0.25"]
    # Rollback reads the history from AWS, so any machine can do it.
    assert run(aws, "rollback", "live") == 0
    assert alias(world)["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.25}
    assert run(aws, "rollback", "live") == 0
    assert alias(world)["FunctionVersion"] == "1"
    capsys.readouterr()
    assert run(aws, "rollback", "live") == 1
    assert "no earlier target" in capsys.readouterr().err
    assert alias(world)["FunctionVersion"] == "1"


def test_setting_the_same_target_changes_nothing(world, two_models, capsys) -> None:
    publish_two(world, two_models)
    assert run(world["aws"], "alias", "set", "live", "2") == 0
    before = alias(world)["Description"]
    assert run(world["aws"], "alias", "set", "live", "2") == 0
    assert "already points at 2" in capsys.readouterr().out
    assert alias(world)["Description"] == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("7",), "version 7 of slipway-dev-predict does not exist; published versions: [1, 2]"),
        (("1", "--canary", "9", "--weight", "0.1"), "version 9"),
        (("1", "--canary", "2", "--weight", "1.5"), "outside [0, 1]"),
        (("1", "--canary", "2"), "--canary needs --weight"),
        (("1", "--weight", "0.5"), "--weight needs --canary"),
        (("1", "--canary", "1", "--weight", "0.5"), "another version"),
        (("$LATEST",), "$LATEST is mutable"),
    ],
)
def test_bad_alias_targets_are_refused_before_any_write(
    world, two_models, capsys, argv, message
) -> None:
    publish_two(world, two_models)
    assert run(world["aws"], "alias", "set", "live", "2") == 0
    capsys.readouterr()
    assert run(world["aws"], "alias", "set", "live", *argv) == 1
    assert message in capsys.readouterr().err
    assert alias(world)["FunctionVersion"] == "2"


def test_rollback_to_a_deleted_version_says_so_and_moves_nothing(world, two_models, capsys):
    publish_two(world, two_models)
    aws = world["aws"]
    assert run(aws, "alias", "set", "live", "1") == 0
    assert run(aws, "alias", "set", "live", "2") == 0
    world["lambda"].delete_function(FunctionName=FUNCTION, Qualifier="1")
    capsys.readouterr()
    assert run(aws, "rollback", "live") == 1
    err = capsys.readouterr().err
    assert "version 1 of slipway-dev-predict does not exist" in err
    assert "was the version deleted?" in err and "slipway alias set live N" in err
    assert alias(world)["FunctionVersion"] == "2"


def test_status_shows_versions_models_weights_and_history(world, two_models, capsys) -> None:
    publish_two(world, two_models)
    aws = world["aws"]
    assert run(aws, "alias", "set", "live", "1") == 0
    assert run(aws, "alias", "set", "live", "1", "--canary", "2", "--weight", "0.1") == 0
    assert run(aws, "alias", "set", "beta", "2") == 0
    capsys.readouterr()
    assert run(aws, "status") == 0
    text = capsys.readouterr().out
    assert "1        digits@1" in text and "2        digits@2" in text
    assert "alias live -> 1 (90%) + 2 (10%)" in text and "before: 1 since" in text
    assert "alias beta -> 2 (100%)" in text
    assert run(aws, "status", "--json") == 0
    state = json.loads(capsys.readouterr().out)
    assert [v["model"] for v in state["versions"]] == ["digits@1", "digits@2"]
    live = next(a for a in state["aliases"] if a["name"] == "live")
    assert (live["version"], live["canary"], live["weight"]) == ("1", "2", 0.1)
    assert [h["target"] for h in live["history"]] == ["1"]
    assert live["missing_versions"] == []


def test_status_flags_an_alias_on_a_missing_version(world, two_models, capsys) -> None:
    from infra.aws.status import gather

    publish_two(world, two_models)
    assert run(world["aws"], "alias", "set", "live", "1") == 0
    # Lambda refuses to delete a version an alias uses; an emulator or a race may not.
    world["lambda"].delete_function(FunctionName=FUNCTION, Qualifier="1")
    state = gather(world["aws"], FUNCTION)
    assert state["aliases"][0]["missing_versions"] == ["1"]
    capsys.readouterr()
    assert run(world["aws"], "status") == 0
    assert "WARNING: version(s) 1 do not exist" in capsys.readouterr().out
