"""`--dry-run` prints the plan and makes no write call: every client here fails the test on
any call that is not a read."""

from __future__ import annotations

from typing import Any

import pytest

from infra.aws.client import Aws
from tests.infra.aws.conftest import FUNCTION, queue_reply, real_reply
from tests.infra.aws.helpers import run

READS = ("get_", "list_", "head_", "describe_")


class ReadOnly:
    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name.startswith(READS) or name in ("meta", "exceptions"):
            return getattr(self._client, name)
        pytest.fail(f"--dry-run made a write call: {name}")


def read_only(world: dict[str, Any]) -> Aws:
    return Aws(
        ReadOnly(world["lambda"]),
        s3=ReadOnly(world["s3"]),
        cloudwatch=ReadOnly(world["cloudwatch"]),
        sleep=lambda s: pytest.fail("--dry-run waited"),
    )


def snapshot(world: dict[str, Any]) -> Any:
    lam, s3 = world["lambda"], world["s3"]
    objects = s3.list_objects_v2(Bucket="slipway-models").get("Contents", [])
    return (
        lam.get_function_configuration(FunctionName=FUNCTION).get("Environment"),
        [v["Version"] for v in lam.list_versions_by_function(FunctionName=FUNCTION)["Versions"]],
        [
            (a["Name"], a["FunctionVersion"])
            for a in lam.list_aliases(FunctionName=FUNCTION)["Aliases"]
        ],
        sorted(o["Key"] for o in objects),
    )


def test_the_read_only_client_catches_writes(world) -> None:
    with pytest.raises(pytest.fail.Exception, match="write call: update_alias"):
        read_only(world).lam.update_alias(FunctionName=FUNCTION, Name="live")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("publish", "--model", "digits@2"), "push model digits@2"),
        (("alias", "set", "live", "1", "--canary", "2", "--weight", "0.1"), "1 + 2 at 0.1"),
        (("rollback", "live"), "rollback: move alias live of slipway-dev-predict from 2 to 1"),
        (("release", "--model", "digits@2", "--alarm", "a1"), "move alias live to 1 + new at 0.1"),
    ],
)
def test_dry_run_prints_the_plan_and_writes_nothing(
    world, two_models, capsys, argv, expected
) -> None:
    aws = world["aws"]
    queue_reply(real_reply(two_models, "digits@1"))
    assert run(aws, "release", "--model", "digits@1", "--wait", "0", store=two_models) == 0
    if argv[0] == "rollback":
        assert run(aws, "publish", "--model", "digits@2", store=two_models) == 0
        assert run(aws, "alias", "set", "live", "2") == 0
    if argv[0] == "alias":
        assert run(aws, "publish", "--model", "digits@2", store=two_models) == 0
    world["cloudwatch"].put_metric_alarm(
        AlarmName="a1",
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    before = snapshot(world)
    capsys.readouterr()
    assert run(read_only(world), *argv, "--dry-run", store=two_models) == 0
    out = capsys.readouterr().out
    assert out.startswith("plan (dry run):") and expected in out
    assert snapshot(world) == before
