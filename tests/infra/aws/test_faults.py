"""Faults end with a clear message and no half state.

moto does not model RevisionId or CodeSha256 conflicts, updates in progress or failed
updates, so those tests drive a real botocore Lambda client through botocore's Stubber with
the error shapes AWS returns (code, message, HTTP status), and check the guards are sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.stub import ANY, Stubber

from infra.aws.calls import Waits
from infra.aws.client import Aws
from infra.aws.exceptions import UpdateFailed, UpdateInProgress
from model_store.backends.local import LocalStore
from tests.infra.aws.conftest import ACCOUNT, FUNCTION, REGION, S3_STORE, queue_reply, real_reply
from tests.infra.aws.helpers import run

Stubbed = tuple[Stubber, Aws, list[float]]  # the `stubbed` fixture: stub, wrapper, sleeps
World = dict[str, Any]  # conftest's `world`
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
STALE_REVISION = (
    "PreconditionFailedException",
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    412,
)
IN_PROGRESS = (
    "ResourceConflictException",
    f"The operation cannot be performed at this time. An update is in progress for resource: {ARN}",
    409,
)


def config(**extra: Any) -> dict[str, Any]:
    """GetFunctionConfiguration's answer, with the fields AWS always returns."""
    return {
        "FunctionName": FUNCTION,
        "FunctionArn": ARN,
        "Version": "$LATEST",
        "CodeSha256": "ZmFrZS1jb2RlLXNoYTI1Ng==",
        "RevisionId": "rev-1",
        "State": "Active",
        "LastUpdateStatus": "Successful",
        **extra,
    }


def got(**extra: Any) -> dict[str, Any]:
    """GetFunction's answer (what the function_updated_v2 waiter polls)."""
    return {"Configuration": config(**extra)}


def alias_shape(version: str, revision: str = "alias-rev-1") -> dict[str, Any]:
    return {
        "AliasArn": f"{ARN}:live",
        "Name": "live",
        "FunctionVersion": version,
        "Description": "",
        "RevisionId": revision,
    }


def versions(*numbers: str) -> dict[str, Any]:
    return {"Versions": [config(Version="$LATEST")] + [config(Version=n) for n in numbers]}


@pytest.fixture
def stubbed() -> Iterator[Stubbed]:
    lam = boto3.client("lambda", region_name=REGION)
    with Stubber(lam) as stub:
        sleeps: list[float] = []
        aws = Aws(
            lam,
            sleep=sleeps.append,
            waits=Waits(update_polls=3, version_polls=3, conflict_retries=2),
        )
        yield stub, aws, sleeps
        stub.assert_no_pending_responses()


def test_a_stale_alias_revision_is_a_clear_conflict(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    stub, aws, _ = stubbed
    stub.add_response("list_versions_by_function", versions("1", "2"), {"FunctionName": FUNCTION})
    stub.add_response("get_alias", alias_shape("1"), {"FunctionName": FUNCTION, "Name": "live"})
    code, message, status = STALE_REVISION
    stub.add_client_error(
        "update_alias",
        code,
        message,
        status,
        expected_params={
            "FunctionName": FUNCTION,
            "Name": "live",
            "FunctionVersion": "2",
            "Description": ANY,
            "RoutingConfig": {"AdditionalVersionWeights": {}},
            "RevisionId": "alias-rev-1",  # the guard: the revision Slipway read
        },
    )
    assert run(aws, "alias", "set", "live", "2") == 4  # conflict
    err = capsys.readouterr().err
    assert "UpdateAlias live of slipway-dev-predict failed: PreconditionFailedException" in err
    assert "Someone else changed it since Slipway read it" in err
    assert "slipway status --target aws" in err


def publish_until_publish_version(stub: Stubber, sha256: str) -> None:
    """The calls of a model-only publish up to PublishVersion (S3 is moto)."""
    stub.add_response("get_function_configuration", config(), {"FunctionName": FUNCTION})
    stub.add_response("get_function", got(), {"FunctionName": FUNCTION})
    stub.add_response(
        "update_function_configuration",
        config(LastUpdateStatus="InProgress", RevisionId="rev-2"),
        {
            "FunctionName": FUNCTION,
            "Environment": ANY,
            "Description": ANY,
            "RevisionId": "rev-1",
        },
    )
    env = {
        "Variables": {
            "SLIPWAY_MODEL": f"{S3_STORE}/digits/1",
            "SLIPWAY_MODEL_SHA256": sha256,
        }
    }
    stub.add_response(
        "get_function",
        got(LastUpdateStatus="InProgress", RevisionId="rev-2"),
        {"FunctionName": FUNCTION},
    )
    stub.add_response(
        "get_function", got(RevisionId="rev-3", Environment=env), {"FunctionName": FUNCTION}
    )


def test_a_code_change_by_someone_else_fails_the_publish(
    world: World, two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lam = boto3.client("lambda", region_name=REGION)
    sleeps: list[float] = []
    aws = Aws(lam, s3=world["s3"], sleep=sleeps.append, waits=Waits(update_polls=3))
    with Stubber(lam) as stub:
        publish_until_publish_version(stub, LocalStore(two_models).manifest("digits", 1).sha256)
        stub.add_client_error(
            "publish_version",
            "InvalidParameterValueException",
            "CodeSHA256 (ZmFrZS1jb2RlLXNoYTI1Ng==) is different from current CodeSHA256 in "
            "$LATEST (b3RoZXItY29kZQ==). Please try again with the CodeSHA256 in $LATEST.",
            400,
            expected_params={
                "FunctionName": FUNCTION,
                "CodeSha256": "ZmFrZS1jb2RlLXNoYTI1Ng==",  # as read when planning
                "RevisionId": "rev-3",  # as read after our own update
                "Description": ANY,
            },
        )
        assert run(aws, "publish", "--model", "digits@1", store=two_models) == 4  # conflict
        stub.assert_no_pending_responses()
    err = capsys.readouterr().err
    assert "PublishVersion slipway-dev-predict failed: InvalidParameterValueException" in err
    assert "The function's code changed since Slipway read it" in err
    assert sleeps == [2.0]  # one poll while LastUpdateStatus was InProgress


def test_update_in_progress_is_retried_within_bounds(stubbed: Stubbed) -> None:
    stub, aws, sleeps = stubbed
    code, message, status = IN_PROGRESS
    for _ in range(2):
        stub.add_client_error("update_function_configuration", code, message, status)
    stub.add_response("update_function_configuration", config(RevisionId="rev-2"))
    out = aws.update_configuration(FUNCTION, variables={}, description="", revision_id="rev-1")
    assert out["RevisionId"] == "rev-2" and sleeps == [5.0, 5.0]


def test_update_in_progress_that_does_not_end_gives_up_clearly(stubbed: Stubbed) -> None:
    stub, aws, sleeps = stubbed
    code, message, status = IN_PROGRESS
    for _ in range(3):
        stub.add_client_error("publish_version", code, message, status)
    with pytest.raises(UpdateInProgress, match="Still busy after 3 tries") as info:
        aws.publish(FUNCTION, code_sha256="x", revision_id="rev-1", description="")
    assert "An update is in progress" in str(info.value) and sleeps == [5.0, 5.0]


def test_waiting_for_last_update_status_is_bounded(stubbed: Stubbed) -> None:
    stub, aws, sleeps = stubbed
    for _ in range(4):  # the first look, then update_polls=3 polls
        stub.add_response("get_function", got(LastUpdateStatus="InProgress"))
    with pytest.raises(UpdateInProgress, match="still updating after 6 s"):
        aws.wait_until_updated(FUNCTION)
    assert sleeps == [2.0, 2.0, 2.0]


def test_a_failed_update_reports_lambdas_reason(stubbed: Stubbed) -> None:
    stub, aws, _ = stubbed
    failed = got(
        LastUpdateStatus="Failed",
        LastUpdateStatusReason="The unzipped size must be smaller than 262144000 bytes",
        LastUpdateStatusReasonCode="InvalidParameterValue",
    )
    stub.add_response("get_function", failed)
    with pytest.raises(UpdateFailed, match="InvalidParameterValue: The unzipped size"):
        aws.wait_until_updated(FUNCTION)


def test_waiting_for_a_version_polls_until_active(stubbed: Stubbed) -> None:
    stub, aws, sleeps = stubbed
    where = {"FunctionName": FUNCTION, "Qualifier": "7"}
    stub.add_response("get_function_configuration", config(Version="7", State="Pending"), where)
    stub.add_response("get_function_configuration", config(Version="7", RevisionId="v7"), where)
    assert aws.wait_version_active(FUNCTION, "7")["RevisionId"] == "v7"
    assert sleeps == [2.0]


def test_a_version_that_fails_to_activate_reports_lambdas_reason(stubbed: Stubbed) -> None:
    stub, aws, _ = stubbed
    reason = {"StateReasonCode": "SnapStartTimeout", "StateReason": "The init phase timed out"}
    stub.add_response("get_function_configuration", config(Version="7", State="Failed", **reason))
    with pytest.raises(
        UpdateFailed, match="7 .* did not become Active: SnapStartTimeout: The init"
    ):
        aws.wait_version_active(FUNCTION, "7")


def test_waiting_for_a_version_is_bounded(stubbed: Stubbed) -> None:
    stub, aws, sleeps = stubbed
    for _ in range(4):  # the first look, then version_polls=3 polls
        stub.add_response("get_function_configuration", config(Version="7", State="Pending"))
    with pytest.raises(UpdateInProgress, match="version 7 of .* is still Pending after 6 s"):
        aws.wait_version_active(FUNCTION, "7")
    assert sleeps == [2.0, 2.0, 2.0]


def test_pages_are_followed(stubbed: Stubbed) -> None:
    stub, aws, _ = stubbed
    first = {"FunctionName": FUNCTION}
    stub.add_response("list_versions_by_function", {**versions("10"), "NextMarker": "m"}, first)
    stub.add_response("list_versions_by_function", versions("2"), {**first, "Marker": "m"})
    assert [v["Version"] for v in aws.versions(FUNCTION)] == ["2", "10"]
    page = {"Aliases": [alias_shape("1") | {"Name": "live"}], "NextMarker": "m"}
    stub.add_response("list_aliases", page, first)
    stub.add_response("list_aliases", {"Aliases": [alias_shape("2") | {"Name": "beta"}]})
    assert [a["Name"] for a in aws.aliases(FUNCTION)] == ["beta", "live"]


def test_an_alias_someone_else_created_is_a_conflict_not_retried(stubbed: Stubbed) -> None:
    from infra.aws.exceptions import Conflict
    from infra.aws.history import Target

    stub, aws, sleeps = stubbed
    stub.add_client_error(
        "create_alias",
        "ResourceConflictException",
        f"Alias already exists: {ARN}:live",
        409,
    )
    with pytest.raises(Conflict, match="Someone else created it since Slipway read it"):
        aws.create_alias(FUNCTION, "live", Target("1"), "")
    assert sleeps == []


def test_throttling_left_after_botocores_retries_is_not_retried_again(stubbed: Stubbed) -> None:
    from infra.aws.exceptions import AwsCallError

    stub, aws, sleeps = stubbed
    stub.add_client_error(
        "update_function_configuration",
        "TooManyRequestsException",
        "Rate exceeded",
        429,
        response_meta={"RetryAttempts": 4},
    )
    with pytest.raises(AwsCallError, match="still throttled the call after 5 attempts"):
        aws.update_configuration(FUNCTION, variables={}, description="", revision_id="rev-1")
    assert sleeps == []


class Raw:
    """An HTTP body for botocore's parser."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def answer_http(client: Any, operation: str, status: int, code: str, times: int) -> list[int]:
    """Lambda's HTTP error answer to the first `times` sends of `operation` (before-send, so
    botocore's retry handler sees it as it would see AWS's); returns a counter of sends."""
    sends: list[int] = []

    def hook(**_: Any) -> Any:
        sends.append(1)
        if len(sends) > times:
            return None  # moto answers
        body = b'{"Type": "User", "message": "' + code.encode() + b'"}'
        headers = HTTPHeaders()
        headers["x-amzn-ErrorType"] = code
        return AWSResponse("https://lambda", status, headers, Raw(body))

    client.meta.events.register_first(f"before-send.lambda.{operation}", hook)
    return sends


def test_connected_clients_retry_throttling_but_not_conflicts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The evidence for Aws._call's own conflict retry: botocore's standard mode (as
    `connect` configures it) retries TooManyRequestsException and gives up on
    ResourceConflictException at once."""
    from botocore.exceptions import ClientError

    from infra.aws.commands import connect
    from infra.aws.settings import Settings

    monkeypatch.delenv("AWS_RETRY_MODE", raising=False)
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    lam = connect(Settings(function=FUNCTION, profile=None, region=REGION)).lam
    assert cast(Any, lam.meta.config).retries == {"mode": "standard", "total_max_attempts": 5}
    throttled = answer_http(lam, "GetFunctionConfiguration", 429, "TooManyRequestsException", 1)
    assert lam.get_function_configuration(FunctionName=FUNCTION)["FunctionName"] == FUNCTION
    assert len(throttled) == 2
    busy = answer_http(lam, "UpdateAlias", 409, "ResourceConflictException", 5)
    with pytest.raises(ClientError, match="ResourceConflictException"):
        lam.update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
    assert len(busy) == 1


def test_the_users_retry_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.aws.commands import connect
    from infra.aws.settings import Settings

    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "9")
    lam = connect(Settings(function=FUNCTION, profile=None, region=REGION)).lam
    assert cast(Any, lam.meta.config).retries == {"mode": "adaptive", "total_max_attempts": 9}


def test_missing_function_says_where_to_look(
    stubbed: Stubbed, capsys: pytest.CaptureFixture[str]
) -> None:
    stub, aws, _ = stubbed
    stub.add_client_error(
        "list_versions_by_function",
        "ResourceNotFoundException",
        f"Function not found: {ARN}",
        404,
    )
    assert run(aws, "alias", "set", "live", "1") == 1
    err = capsys.readouterr().err
    assert f"Function not found: {ARN}" in err and "AWS_REGION" in err


def fail_once(client: Any, operation: str, error: tuple[str, str, int]) -> None:
    """AWS's error shape for the next `operation` call, through botocore's before-call hook
    (the one Stubber uses), while moto keeps answering every other call."""
    code, message, status = error
    fired: list[bool] = []

    def hook(**_: Any) -> Any:
        if fired:
            return None
        fired.append(True)
        parsed = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse("", status, HTTPHeaders(), None), parsed

    client.meta.events.register_first(f"before-call.lambda.{operation}", hook)


def test_version_published_but_alias_move_failed_says_how_to_finish(
    world: World, two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lam, aws = world["lambda"], world["aws"]
    queue_reply(real_reply(two_models, "digits@1"))
    assert run(aws, "release", "--model", "digits@1", "--wait", "0", store=two_models) == 0
    queue_reply(real_reply(two_models, "digits@2"))
    fail_once(lam, "UpdateAlias", STALE_REVISION)
    assert (
        run(aws, "release", "--model", "digits@2", "--wait", "0", store=two_models) == 5
    )  # partial
    err = capsys.readouterr().err
    assert "version 2 is published, but moving alias live to 1 + 2 at 0.1 failed" in err
    assert "PreconditionFailedException" in err and "Alias live points at 1." in err
    finish = "slipway alias set live 2 --target aws --function slipway-dev-predict"
    assert finish in err
    # No half state: version 2 exists whole, the alias is untouched, and the command works.
    assert lam.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"] == "1"
    v2 = lam.get_function_configuration(FunctionName=FUNCTION, Qualifier="2")
    manifest = LocalStore(two_models).manifest("digits", 2)
    assert v2["Environment"]["Variables"]["SLIPWAY_MODEL_SHA256"] == manifest.sha256
    assert run(aws, *finish.split()[1:3], "live", "2") == 0
    assert lam.get_alias(FunctionName=FUNCTION, Name="live")["FunctionVersion"] == "2"


def test_a_missing_bucket_is_a_clear_error(
    world: World, two_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra import cli
    from infra.aws import commands
    from infra.release import verbs

    argv = ["publish", "--model", "digits@1", "--target", "aws", "--function", FUNCTION]
    argv += ["--s3-store", "s3://no-such-bucket/models", "--source-store", str(two_models)]
    args = cli.parser().parse_args(argv)
    publish = verbs.VERBS["publish"]
    assert verbs.run(publish, lambda: commands.platform(args, world["aws"]), args) == 1
    err = capsys.readouterr().err
    assert "reading S3Store('s3://no-such-bucket/models') failed: NoSuchBucket" in err


def test_an_unknown_profile_is_a_clear_error() -> None:
    from infra.aws.commands import connect
    from infra.aws.exceptions import AwsCallError
    from infra.aws.settings import Settings

    with pytest.raises(AwsCallError, match="connecting to AWS failed: .*no-such-profile"):
        connect(Settings(function=FUNCTION, profile="no-such-profile", region=REGION))
