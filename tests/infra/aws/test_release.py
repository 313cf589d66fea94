from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.aws.history import History
from tests.infra.aws.conftest import FUNCTION, queue_reply, real_reply
from tests.infra.aws.helpers import run

FAST = ("--wait", "30", "--poll", "10")


def alias(world: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = world["lambda"].get_alias(FunctionName=FUNCTION, Name="live")
    found.pop("ResponseMetadata")
    return found


def first_release(world: dict[str, Any], store: Any) -> None:
    queue_reply(real_reply(store, "digits@1"))
    assert run(world["aws"], "release", "--model", "digits@1", *FAST, store=store) == 0
    assert alias(world)["FunctionVersion"] == "1"


def put_errors(world: dict[str, Any], version: str, count: float) -> None:
    world["cloudwatch"].put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Errors",
                "Dimensions": [
                    {"Name": "FunctionName", "Value": FUNCTION},
                    {"Name": "Resource", "Value": f"{FUNCTION}:live"},
                    {"Name": "ExecutedVersion", "Value": version},
                ],
                "Timestamp": datetime.now(UTC),
                "Value": count,
                "Unit": "Count",
            }
        ],
    )


def test_release_smoke_tests_shifts_in_steps_and_rollback_undoes_it(
    world, two_models, capsys
) -> None:
    first_release(world, two_models)
    seen: list[Any] = []
    # Record the alias at each watch poll: the canary step must be visible from outside.
    world["sleeps"].hooks.append(lambda: seen.append(alias(world)["RoutingConfig"]))
    queue_reply(real_reply(two_models, "digits@2"))
    argv = ("release", "--model", "digits@2", "--steps", "0.1,0.5,1", *FAST)
    assert run(world["aws"], *argv, store=two_models) == 0
    out = capsys.readouterr().out
    assert "version 2 answered the smoke invoke with digits@2" in out
    assert "released version 2 (digits@2) on alias live" in out
    weights = [r["AdditionalVersionWeights"] for r in seen]
    assert weights == [{"2": 0.1}] * 3 + [{"2": 0.5}] * 3 + [{}] * 3
    assert world["sleeps"] == [10.0] * 9  # three polls per step, bounded by --wait
    live = alias(world)
    assert live["FunctionVersion"] == "2"
    # The whole release is one history entry: rollback returns to version 1, not to 50%.
    assert [e.target.token() for e in History.decode(live["Description"]).earlier] == ["1"]
    assert run(world["aws"], "rollback", "live") == 0
    assert alias(world)["FunctionVersion"] == "1"
    assert not alias(world)["RoutingConfig"]["AdditionalVersionWeights"]


def test_failed_smoke_invoke_moves_no_traffic(world, two_models, capsys) -> None:
    first_release(world, two_models)
    before = alias(world)
    reply = real_reply(two_models, "digits@2") | {"statusCode": 500}
    queue_reply(reply)
    assert run(world["aws"], "release", "--model", "digits@2", *FAST, store=two_models) == 1
    err = capsys.readouterr().err
    assert "answered the smoke invoke with 500" in err
    assert "No traffic moved: alias live still points at 1" in err
    assert alias(world) == before


def test_smoke_invoke_must_come_from_the_released_model(world, two_models, capsys) -> None:
    first_release(world, two_models)
    queue_reply(real_reply(two_models, "digits@1"))  # the configuration did not take
    assert run(world["aws"], "release", "--model", "digits@2", *FAST, store=two_models) == 1
    assert "not digits@2" in capsys.readouterr().err
    assert alias(world)["FunctionVersion"] == "1"


def test_errors_of_the_new_version_roll_the_release_back(world, two_models, capsys) -> None:
    first_release(world, two_models)
    before = alias(world)
    put_errors(world, "1", 50)  # the old version's errors do not judge the new one
    world["sleeps"].hooks.append(lambda: put_errors(world, "2", 3))
    queue_reply(real_reply(two_models, "digits@2"))
    assert (
        run(world["aws"], "release", "--model", "digits@2", *FAST, store=two_models) == 3
    )  # rolled back
    err = capsys.readouterr().err
    assert "version 2 (digits@2) failed while taking 0.1 of live" in err
    assert "Errors for ExecutedVersion 2" in err and "= 3 (limit 0)" in err
    assert "Rolled back: alias live points at 1 again" in err
    after = alias(world)
    assert (
        after["FunctionVersion"] == "1" and not after["RoutingConfig"]["AdditionalVersionWeights"]
    )
    assert after["Description"] == before["Description"]  # history as if nothing happened
    assert len(world["sleeps"]) == 1  # stopped at the first bad poll


def create_alarm(world: dict[str, Any], name: str) -> None:
    world["cloudwatch"].put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def test_an_alarm_turning_red_during_the_release_rolls_it_back(world, two_models, capsys):
    first_release(world, two_models)
    create_alarm(world, "predict-errors")
    cw = world["cloudwatch"]
    world["sleeps"].hooks.append(
        lambda: cw.set_alarm_state(
            AlarmName="predict-errors", StateValue="ALARM", StateReason="5 errors in 1 minute"
        )
    )
    queue_reply(real_reply(two_models, "digits@2"))
    argv = ("release", "--model", "digits@2", "--alarm", "predict-errors", *FAST)
    assert run(world["aws"], *argv, store=two_models) == 3  # rolled back
    err = capsys.readouterr().err
    assert "alarm predict-errors went to ALARM" in err and "5 errors in 1 minute" in err
    assert alias(world)["FunctionVersion"] == "1"


def test_a_fix_stays_deployable_while_the_bad_release_alarm_is_red(world, two_models, capsys):
    first_release(world, two_models)
    create_alarm(world, "predict-errors")
    world["cloudwatch"].set_alarm_state(
        AlarmName="predict-errors", StateValue="ALARM", StateReason="version 1 is bad"
    )
    queue_reply(real_reply(two_models, "digits@2"))
    argv = ("release", "--model", "digits@2", "--alarm", "predict-errors", *FAST)
    assert run(world["aws"], *argv, store=two_models) == 0
    assert "alarm predict-errors is already ALARM" in capsys.readouterr().out
    assert alias(world)["FunctionVersion"] == "2"


def test_release_without_an_example_needs_skip_smoke(world, two_models, capsys) -> None:
    import dataclasses

    from infra.aws.exceptions import SmokeTestFailed
    from infra.release.engine import smoke_event
    from model_store.backends.local import LocalStore

    manifest = dataclasses.replace(LocalStore(two_models).manifest("digits", 2), example=None)
    try:
        smoke_event(manifest)
    except SmokeTestFailed as exc:
        assert "--skip-smoke" in str(exc)
    else:
        raise AssertionError("a manifest without an example was smoke-tested")
    first_release(world, two_models)
    argv = ("release", "--model", "digits@2", "--skip-smoke", *FAST)
    assert run(world["aws"], *argv, store=two_models) == 0
    assert alias(world)["FunctionVersion"] == "2"


def test_bad_steps_are_refused(world, two_models, capsys) -> None:
    for steps in ("0.5,0.1,1", "0.1,0.5", "0,1", "a,b"):
        argv = ("release", "--model", "digits@2", "--steps", steps)
        assert run(world["aws"], *argv, store=two_models) == 1
        assert "--steps" in capsys.readouterr().err


def test_an_interrupted_watch_rolls_the_alias_back(world, two_models, capsys) -> None:
    first_release(world, two_models)

    def interrupt() -> None:
        raise KeyboardInterrupt

    world["sleeps"].hooks.append(interrupt)
    queue_reply(real_reply(two_models, "digits@2"))
    assert (
        run(world["aws"], "release", "--model", "digits@2", *FAST, store=two_models) == 3
    )  # rolled back
    err = capsys.readouterr().err
    assert "interrupted while watching" in err and "points at 1 again" in err
    assert alias(world)["FunctionVersion"] == "1"
    assert not alias(world)["RoutingConfig"]["AdditionalVersionWeights"]
