"""The one typed wrapper around boto3 that the release commands use.

It takes its clients and a `sleep` function (tests pass one that records instead of
waiting). Pagination, waiting for an update and retrying what AWS says is temporary are
boto3's own: paginators, the service's waiters, and botocore's retry modes (`retry_config`,
used where the clients are made). Every AWS error becomes a Slipway error saying what
failed, why, and what to do next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, cast

from infra.aws.errors import CONFLICT, NOT_FOUND, aws_errors, error_code, failure
from infra.aws.exceptions import NotFound, UpdateFailed, UpdateInProgress
from infra.aws.history import Target, routing_config

if TYPE_CHECKING:  # the stubs are a dev dependency: no import, and no cost, at run time
    from botocore.config import Config
    from botocore.session import Session
    from botocore.waiter import Waiter as BotocoreWaiter
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import (
        AliasRoutingConfigurationUnionTypeDef,
        CreateAliasRequestTypeDef,
        GetFunctionConfigurationRequestTypeDef,
        PublishVersionRequestTypeDef,
        UpdateAliasRequestTypeDef,
        UpdateFunctionCodeRequestTypeDef,
        UpdateFunctionConfigurationRequestTypeDef,
    )
    from mypy_boto3_s3 import S3Client

R = TypeVar("R")
RetryMode = Literal["legacy", "standard", "adaptive"]

# botocore's retries for every call: exponential backoff with jitter and a retry quota, on
# throttling (TooManyRequestsException included) and transient errors (5xx, timeouts,
# connection errors). `standard`, the mode the AWS SDKs' guide recommends; `adaptive` adds
# client-side rate limiting that the guide keeps for specialised cases.
RETRY_MODE: Final[RetryMode] = "standard"
MAX_ATTEMPTS: Final = 5  # in all, the first included (botocore's total_max_attempts)


def retry_config(session: Session) -> Config:
    """Slipway's retry settings unless the user chose others: AWS_RETRY_MODE and
    AWS_MAX_ATTEMPTS, or retry_mode and max_attempts in the profile, still win."""
    from botocore.config import Config

    mode: RetryMode = session.get_config_variable("retry_mode") or RETRY_MODE
    attempts: int = session.get_config_variable("max_attempts") or MAX_ATTEMPTS
    return Config(retries={"mode": mode, "total_max_attempts": attempts})


@dataclass(frozen=True)
class Waits:
    """Bounds on every wait: a stuck update ends with an error, never a hang."""

    update_polls: int = 150  # LastUpdateStatus InProgress: polls of `poll_s` after the first look
    poll_s: float = 2.0
    # A version is Pending while Lambda prepares it (a SnapStart snapshot takes minutes):
    # 26 min at `poll_s`, the bound of AWS's own published_version_active waiter.
    version_polls: int = 780
    conflict_retries: int = 8  # ResourceConflictException: retries of `backoff_s` (see _call)
    backoff_s: float = 5.0


def _plain(response: Mapping[str, Any]) -> dict[str, Any]:
    """The stubs' TypedDict as the plain dict the release code reads (keys AWS may omit)."""
    return dict(response)


class Aws:
    """Lambda, S3 and CloudWatch calls in the shapes the release commands need."""

    def __init__(
        self,
        lambda_client: LambdaClient,
        *,
        s3: S3Client | None = None,
        cloudwatch: CloudWatchClient | None = None,
        sleep: Callable[[float], None] = time.sleep,
        waits: Waits = Waits(),
    ) -> None:
        self.lam = lambda_client
        self._s3 = s3
        self._cloudwatch = cloudwatch
        self.sleep = sleep
        self.waits = waits

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            raise TypeError("this Aws was made without an S3 client: pass Aws(..., s3=...)")
        return self._s3

    @property
    def cloudwatch(self) -> CloudWatchClient:
        if self._cloudwatch is None:
            raise TypeError("this Aws was made without a CloudWatch client: Aws(..., cloudwatch=)")
        return self._cloudwatch

    def _call(self, what: str, call: Callable[[], R], *, retry_conflict: bool = False) -> R:
        """`call()`, with AWS's errors as Slipway errors; botocore has retried what it can.

        `retry_conflict`: Lambda answers ResourceConflictException ("An update is in
        progress", or a function or version still Pending) to a write or invoke that races
        an update. The waiter before each write covers Slipway's own updates only: another
        deploy can start one between the wait and the write, and no waiter closes that gap.
        botocore's standard and adaptive modes do not retry this code (it is neither a
        throttling nor a transient error, and 409 is not a transient status), so these calls
        retry it a few times. CreateAlias does not: there the code means "already exists".
        """
        from botocore.exceptions import BotoCoreError, ClientError

        tries = 0
        while True:
            tries += 1
            try:
                return call()
            except (ClientError, BotoCoreError) as exc:
                again = retry_conflict and tries <= self.waits.conflict_retries
                if not (again and error_code(exc)[0] == CONFLICT):
                    raise failure(what, exc, tries=tries) from exc
            self.sleep(self.waits.backoff_s)

    def _write(self, what: str, call: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
        """A write that can race an update of the function: conflicts are retried (_call)."""
        return _plain(self._call(what, call, retry_conflict=True))

    def _wait(
        self, waiter: BotocoreWaiter, what: str, poll: Callable[[], Mapping[str, Any]], polls: int
    ) -> dict[str, Any]:
        """Run boto3's `waiter` (the service's own acceptors, Slipway's bound),
        polling with `poll`; returns the last answer. Raises WaiterError on Failed or when
        `polls` polls after the first look are used up.

        botocore's Waiter pauses with time.sleep and takes no sleep function, so the waiter is
        built from the service's model with Delay 0 and an operation that calls `self.sleep`
        before every poll but the first: the pacing is the injected sleep's, the rules are
        AWS's.
        """
        from botocore.waiter import Waiter

        answers: list[dict[str, Any]] = []

        def operation(**_: Any) -> dict[str, Any]:
            if answers:
                self.sleep(self.waits.poll_s)
            answers.append(_plain(self._call(what, poll)))
            return answers[-1]

        Waiter(waiter.name, waiter.config, operation).wait(
            WaiterConfig={"Delay": 0, "MaxAttempts": polls + 1}
        )
        return answers[-1]

    # -- Lambda: reading ------------------------------------------------------------
    def function(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        request: GetFunctionConfigurationRequestTypeDef = {"FunctionName": name}
        if qualifier is not None:
            request["Qualifier"] = qualifier
        where = f"{name}:{qualifier}" if qualifier else name
        return _plain(
            self._call(
                f"GetFunctionConfiguration {where}",
                lambda: self.lam.get_function_configuration(**request),
            )
        )

    def alias(self, function: str, name: str) -> dict[str, Any] | None:
        try:
            return _plain(
                self._call(
                    f"GetAlias {name} of {function}",
                    lambda: self.lam.get_alias(FunctionName=function, Name=name),
                )
            )
        except NotFound:
            self.function(function)  # a missing function is an error, a missing alias is not
            return None

    def versions(self, function: str) -> list[dict[str, Any]]:
        pages = self.lam.get_paginator("list_versions_by_function")
        found = self._items(
            f"ListVersionsByFunction {function}", pages.paginate(FunctionName=function), "Versions"
        )
        return sorted(
            (v for v in found if v.get("Version") != "$LATEST"), key=lambda v: int(v["Version"])
        )

    def aliases(self, function: str) -> list[dict[str, Any]]:
        pages = self.lam.get_paginator("list_aliases")
        found = self._items(
            f"ListAliases {function}", pages.paginate(FunctionName=function), "Aliases"
        )
        return sorted(found, key=lambda a: str(a["Name"]))

    def _items(
        self, what: str, pages: Iterable[Mapping[str, Any]], key: str
    ) -> list[dict[str, Any]]:
        """Every page's `key` items; a paginator calls AWS as it is read, so read it here."""
        return self._call(what, lambda: [_plain(i) for page in pages for i in page.get(key, [])])

    def wait_until_updated(self, function: str) -> dict[str, Any]:
        """Wait until LastUpdateStatus is Successful (boto3's function_updated_v2, which polls
        GetFunction: its own 100 requests/s quota, not the 15/s the writes share); returns
        the function's configuration as the last poll saw it."""
        from botocore.exceptions import WaiterError

        try:
            answer = self._wait(
                self.lam.get_waiter("function_updated_v2"),
                f"GetFunction {function}",
                lambda: self.lam.get_function(FunctionName=function),
                self.waits.update_polls,
            )
        except WaiterError as exc:
            config = _plain(exc.last_response).get("Configuration") or {}
            if config.get("LastUpdateStatus") == "Failed":
                raise UpdateFailed(
                    f"Lambda could not apply the update to {function}: "
                    f"{config.get('LastUpdateStatusReasonCode', 'Failed')}: "
                    f"{config.get('LastUpdateStatusReason', '')}. "
                    "Fix the cause, then run the command again"
                ) from exc
            raise UpdateInProgress(
                f"{function} is still updating after "
                f"{self.waits.update_polls * self.waits.poll_s:.0f} s (LastUpdateStatus "
                f"{config.get('LastUpdateStatus', 'InProgress')}); check it in the console or "
                "with `aws lambda get-function-configuration`, then run the command again"
            ) from exc
        return _plain(answer["Configuration"])

    def wait_version_active(self, function: str, version: str) -> dict[str, Any]:
        """Wait until a published version's State is Active (boto3's published_version_active);
        returns its configuration. Until then Lambda refuses to invoke it."""
        from botocore.exceptions import WaiterError

        try:
            return self._wait(
                self.lam.get_waiter("published_version_active"),
                f"GetFunctionConfiguration {function}:{version}",
                lambda: self.lam.get_function_configuration(
                    FunctionName=function, Qualifier=version
                ),
                self.waits.version_polls,
            )
        except WaiterError as exc:
            config = _plain(exc.last_response)
            if config.get("State") == "Failed":
                raise UpdateFailed(
                    f"version {version} of {function} did not become Active: "
                    f"{config.get('StateReasonCode', 'Failed')}: {config.get('StateReason', '')}. "
                    "Fix the cause (for SnapStart, the function's init), then publish again"
                ) from exc
            raise UpdateInProgress(
                f"version {version} of {function} is still {config.get('State', 'Pending')} "
                f"after {self.waits.version_polls * self.waits.poll_s:.0f} s; check it with "
                f"`aws lambda get-function-configuration --function-name {function} "
                f"--qualifier {version}`, then run the command again"
            ) from exc

    # -- Lambda: writing ------------------------------------------------------------
    def update_configuration(
        self,
        function: str,
        *,
        variables: Mapping[str, str],
        description: str,
        revision_id: str | None,
    ) -> dict[str, Any]:
        request: UpdateFunctionConfigurationRequestTypeDef = {
            "FunctionName": function,
            "Environment": {"Variables": dict(variables)},
            "Description": description,
        }
        if revision_id:  # AWS always returns one; an emulator may not: nothing to guard then
            request["RevisionId"] = revision_id
        return self._write(
            f"UpdateFunctionConfiguration {function}",
            lambda: self.lam.update_function_configuration(**request),
        )

    def update_code(
        self,
        function: str,
        *,
        zip_bytes: bytes | None,
        image_uri: str | None,
        revision_id: str | None,
    ) -> dict[str, Any]:
        request: UpdateFunctionCodeRequestTypeDef = {"FunctionName": function, "Publish": False}
        if image_uri is not None:
            request["ImageUri"] = image_uri
        elif zip_bytes is not None:
            request["ZipFile"] = zip_bytes
        if revision_id:
            request["RevisionId"] = revision_id
        return self._write(
            f"UpdateFunctionCode {function}", lambda: self.lam.update_function_code(**request)
        )

    def publish(
        self, function: str, *, code_sha256: str, revision_id: str | None, description: str
    ) -> dict[str, Any]:
        request: PublishVersionRequestTypeDef = {
            "FunctionName": function,
            "CodeSha256": code_sha256,  # the guard: Lambda refuses if $LATEST's code changed
            "Description": description,
        }
        if revision_id:
            request["RevisionId"] = revision_id
        return self._write(
            f"PublishVersion {function}", lambda: self.lam.publish_version(**request)
        )

    def create_alias(
        self, function: str, name: str, target: Target, description: str
    ) -> dict[str, Any]:
        request: CreateAliasRequestTypeDef = {
            "FunctionName": function,
            "Name": name,
            "FunctionVersion": target.version,
            "Description": description,
            "RoutingConfig": _routing(target),
        }
        return _plain(
            self._call(
                f"CreateAlias {name} of {function}", lambda: self.lam.create_alias(**request)
            )
        )

    def update_alias(
        self, function: str, name: str, target: Target, description: str, revision_id: str | None
    ) -> dict[str, Any]:
        request: UpdateAliasRequestTypeDef = {
            "FunctionName": function,
            "Name": name,
            "FunctionVersion": target.version,
            "Description": description,
            "RoutingConfig": _routing(target),
        }
        if revision_id:
            request["RevisionId"] = revision_id
        return self._write(
            f"UpdateAlias {name} of {function}", lambda: self.lam.update_alias(**request)
        )

    def invoke(self, function: str, qualifier: str, payload: bytes) -> tuple[str | None, bytes]:
        """Invoke one version synchronously; returns (FunctionError or None, payload)."""
        response = self._call(
            f"Invoke {function}:{qualifier}",
            lambda: self.lam.invoke(
                FunctionName=function,
                Qualifier=qualifier,
                InvocationType="RequestResponse",
                Payload=payload,
            ),
            retry_conflict=True,  # a version still Pending answers ResourceConflictException
        )
        return response.get("FunctionError"), response["Payload"].read()

    # -- CloudWatch -----------------------------------------------------------------
    def metric_sum(
        self, metric: str, dimensions: Mapping[str, str], start: datetime, end: datetime
    ) -> float:
        response = self._call(
            f"GetMetricStatistics AWS/Lambda {metric}",
            lambda: self.cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName=metric,
                Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
                StartTime=start,
                EndTime=end,
                Period=60,
                Statistics=["Sum"],
            ),
        )
        return float(sum(p.get("Sum", 0.0) for p in response.get("Datapoints", [])))

    def alarm(self, name: str) -> dict[str, Any]:
        response = self._call(
            f"DescribeAlarms {name}", lambda: self.cloudwatch.describe_alarms(AlarmNames=[name])
        )
        found = [
            *map(_plain, response.get("MetricAlarms", [])),
            *map(_plain, response.get("CompositeAlarms", [])),
        ]
        if not found:
            raise NotFound(
                f"CloudWatch alarm {name!r} does not exist; check --alarm and AWS_REGION"
            )
        return found[0]

    # -- S3 -------------------------------------------------------------------------
    def object_exists(self, bucket: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        with aws_errors(f"HeadObject s3://{bucket}/{key}"):
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
                return True
            except ClientError as exc:
                if error_code(exc)[0] not in (*NOT_FOUND, "NotFound"):
                    raise
                return False

    def put_object(self, bucket: str, key: str, body: bytes, **extra: Any) -> None:
        self._call(
            f"PutObject s3://{bucket}/{key}",
            lambda: self.s3.put_object(Bucket=bucket, Key=key, Body=body, **extra),
        )


def _routing(target: Target) -> AliasRoutingConfigurationUnionTypeDef:
    """The alias's RoutingConfig (from history.routing_config) in the stubs' type."""
    return cast("AliasRoutingConfigurationUnionTypeDef", routing_config(target))
