"""CloudWatch's calls a release's watch makes: a Lambda metric's sum, an alarm's state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from infra.aws.calls import Calls, plain
from infra.aws.exceptions import NotFound

if TYPE_CHECKING:  # the stubs are a dev dependency: no import, and no cost, at run time
    from mypy_boto3_cloudwatch import CloudWatchClient


class CloudWatchApi(Calls):
    _cloudwatch: CloudWatchClient | None

    @property
    def cloudwatch(self) -> CloudWatchClient:
        if self._cloudwatch is None:
            raise TypeError("this Aws was made without a CloudWatch client: Aws(..., cloudwatch=)")
        return self._cloudwatch

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
            *map(plain, response.get("MetricAlarms", [])),
            *map(plain, response.get("CompositeAlarms", [])),
        ]
        if not found:
            raise NotFound(
                f"CloudWatch alarm {name!r} does not exist; check --alarm and AWS_REGION"
            )
        return found[0]
