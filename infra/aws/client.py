"""The one typed wrapper around boto3 that the release commands use.

It takes its clients and a `sleep` function (tests pass one that records instead of
waiting), retries what AWS says is temporary within fixed bounds, and turns every
ClientError into a Slipway error saying what failed, why, and what to do next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from infra.aws.errors import NOT_FOUND, RETRYABLE, error_code, translate
from infra.aws.exceptions import AwsCallError, NotFound, UpdateFailed, UpdateInProgress
from infra.aws.history import Target


@dataclass(frozen=True)
class Waits:
    """Bounds on every wait: a stuck update ends with an error, never a hang."""

    update_polls: int = 150  # LastUpdateStatus InProgress: polls of `poll_s`
    poll_s: float = 2.0
    conflict_retries: int = 8  # ResourceConflictException / throttling: retries of `backoff_s`
    backoff_s: float = 5.0


def _revision(revision_id: str | None) -> dict[str, str]:
    """AWS always returns a RevisionId; an emulator may not, and then there is nothing to guard."""
    return {"RevisionId": revision_id} if revision_id else {}


class Aws:
    """Lambda, S3 and CloudWatch calls in the shapes the release commands need."""

    def __init__(
        self,
        lambda_client: Any,
        *,
        s3: Any = None,
        cloudwatch: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        waits: Waits = Waits(),
    ) -> None:
        self.lam = lambda_client
        self.s3 = s3
        self.cloudwatch = cloudwatch
        self.sleep = sleep
        self.waits = waits

    def _call(self, what: str, op: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        tries = 0
        while True:
            tries += 1
            try:
                return op(**kwargs)
            except ClientError as exc:
                if error_code(exc)[0] in RETRYABLE and tries <= self.waits.conflict_retries:
                    self.sleep(self.waits.backoff_s)
                    continue
                raise translate(what, exc, tries=tries) from exc
            except BotoCoreError as exc:
                raise AwsCallError(
                    f"{what} failed: {exc}. Check AWS_REGION, AWS_PROFILE and AWS_ENDPOINT_URL"
                ) from exc

    # -- Lambda: reading ------------------------------------------------------------
    def function(self, name: str, qualifier: str | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"FunctionName": name}
        if qualifier is not None:
            kwargs["Qualifier"] = qualifier
        where = f"{name}:{qualifier}" if qualifier else name
        config: dict[str, Any] = self._call(
            f"GetFunctionConfiguration {where}", self.lam.get_function_configuration, **kwargs
        )
        return config

    def alias(self, function: str, name: str) -> dict[str, Any] | None:
        try:
            alias: dict[str, Any] = self._call(
                f"GetAlias {name} of {function}",
                self.lam.get_alias,
                FunctionName=function,
                Name=name,
            )
            return alias
        except NotFound:
            self.function(function)  # a missing function is an error, a missing alias is not
            return None

    def versions(self, function: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"FunctionName": function}
            if marker:
                kwargs["Marker"] = marker
            page = self._call(
                f"ListVersionsByFunction {function}", self.lam.list_versions_by_function, **kwargs
            )
            out.extend(v for v in page.get("Versions", []) if v.get("Version") != "$LATEST")
            marker = page.get("NextMarker")
            if not marker:
                return sorted(out, key=lambda v: int(v["Version"]))

    def aliases(self, function: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"FunctionName": function}
            if marker:
                kwargs["Marker"] = marker
            page = self._call(f"ListAliases {function}", self.lam.list_aliases, **kwargs)
            out.extend(page.get("Aliases", []))
            marker = page.get("NextMarker")
            if not marker:
                return sorted(out, key=lambda a: str(a["Name"]))

    def wait_until_updated(self, function: str) -> dict[str, Any]:
        """Poll until LastUpdateStatus is Successful; bounded by `waits.update_polls`."""
        for _ in range(self.waits.update_polls):
            config = self.function(function)
            status = config.get("LastUpdateStatus") or "Successful"
            state = config.get("State") or "Active"
            if status == "Failed" or state == "Failed":
                reason = config.get("LastUpdateStatusReason") or config.get("StateReason") or ""
                raise UpdateFailed(
                    f"Lambda could not apply the update to {function}: "
                    f"{config.get('LastUpdateStatusReasonCode', 'Failed')}: {reason}. "
                    "Fix the cause, then run the command again"
                )
            if status == "Successful" and state != "Pending":
                return config
            self.sleep(self.waits.poll_s)
        raise UpdateInProgress(
            f"{function} is still updating after {self.waits.update_polls * self.waits.poll_s:.0f}"
            " s (LastUpdateStatus InProgress); check it in the console or with "
            "`aws lambda get-function-configuration`, then run the command again"
        )

    # -- Lambda: writing ------------------------------------------------------------
    def update_configuration(
        self,
        function: str,
        *,
        variables: Mapping[str, str],
        description: str,
        revision_id: str | None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            f"UpdateFunctionConfiguration {function}",
            self.lam.update_function_configuration,
            FunctionName=function,
            Environment={"Variables": dict(variables)},
            Description=description,
            **_revision(revision_id),
        )
        return result

    def update_code(
        self,
        function: str,
        *,
        zip_bytes: bytes | None,
        image_uri: str | None,
        revision_id: str | None,
    ) -> dict[str, Any]:
        code: dict[str, Any] = {"ZipFile": zip_bytes} if zip_bytes is not None else {}
        if image_uri is not None:
            code = {"ImageUri": image_uri}
        result: dict[str, Any] = self._call(
            f"UpdateFunctionCode {function}",
            self.lam.update_function_code,
            FunctionName=function,
            Publish=False,
            **_revision(revision_id),
            **code,
        )
        return result

    def publish(
        self, function: str, *, code_sha256: str, revision_id: str | None, description: str
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            f"PublishVersion {function}",
            self.lam.publish_version,
            FunctionName=function,
            CodeSha256=code_sha256,
            **_revision(revision_id),
            Description=description,
        )
        return result

    def create_alias(
        self, function: str, name: str, target: Target, description: str
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            f"CreateAlias {name} of {function}",
            self.lam.create_alias,
            FunctionName=function,
            Name=name,
            FunctionVersion=target.version,
            Description=description,
            RoutingConfig=target.routing_config(),
        )
        return result

    def update_alias(
        self, function: str, name: str, target: Target, description: str, revision_id: str | None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            f"UpdateAlias {name} of {function}",
            self.lam.update_alias,
            FunctionName=function,
            Name=name,
            FunctionVersion=target.version,
            Description=description,
            RoutingConfig=target.routing_config(),
            **_revision(revision_id),
        )
        return result

    def invoke(self, function: str, qualifier: str, payload: bytes) -> tuple[str | None, bytes]:
        """Invoke one version synchronously; returns (FunctionError or None, payload)."""
        response = self._call(
            f"Invoke {function}:{qualifier}",
            self.lam.invoke,
            FunctionName=function,
            Qualifier=qualifier,
            InvocationType="RequestResponse",
            Payload=payload,
        )
        body: bytes = response["Payload"].read()
        return response.get("FunctionError"), body

    # -- CloudWatch -----------------------------------------------------------------
    def metric_sum(
        self, metric: str, dimensions: Mapping[str, str], start: datetime, end: datetime
    ) -> float:
        response = self._call(
            f"GetMetricStatistics AWS/Lambda {metric}",
            self.cloudwatch.get_metric_statistics,
            Namespace="AWS/Lambda",
            MetricName=metric,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
            StartTime=start,
            EndTime=end,
            Period=60,
            Statistics=["Sum"],
        )
        return float(sum(p.get("Sum", 0.0) for p in response.get("Datapoints", [])))

    def alarm(self, name: str) -> dict[str, Any]:
        response = self._call(
            f"DescribeAlarms {name}", self.cloudwatch.describe_alarms, AlarmNames=[name]
        )
        found = [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
        if not found:
            raise NotFound(
                f"CloudWatch alarm {name!r} does not exist; check --alarm and AWS_REGION"
            )
        alarm: dict[str, Any] = found[0]
        return alarm

    # -- S3 -------------------------------------------------------------------------
    def object_exists(self, bucket: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as exc:
            if error_code(exc)[0] in NOT_FOUND or error_code(exc)[0] == "NotFound":
                return False
            raise translate(f"HeadObject s3://{bucket}/{key}", exc) from exc

    def put_object(self, bucket: str, key: str, body: bytes, **extra: Any) -> None:
        self._call(
            f"PutObject s3://{bucket}/{key}",
            self.s3.put_object,
            Bucket=bucket,
            Key=key,
            Body=body,
            **extra,
        )
